"""The plan as Markdown (the call graph as a Mermaid block, which GitHub renders) or as one self-contained
HTML page (the call graph as inline SVG laid out here: no script, no external asset)."""

from __future__ import annotations

import html
import re

import asyncify_lint.plan.diagram as diagrams
from asyncify_lint.diagnostics import Diagnostic
from asyncify_lint.plan.report import OTHER, Plan, count_roles, plural
from asyncify_lint.plan.steps import Step, TestRisk, rule_label

APPLY = "asyncify-lint plan --apply {n}"
_LOCATION = re.compile(r"^\S+:\d+ ")


def summary(plan: Plan) -> str:
    steps = plan.steps.steps
    if not steps:
        return "No step: no fix applies" + (" with these options." if plan.hidden_unsafe else ".")
    roles: dict[str, int] = {}
    for fn in plan.functions:
        if fn.left is None:
            role = fn.role or OTHER
            roles[role] = roles.get(role, 0) + 1
    made = sum(roles.values())
    return (f"{plural(len(steps), 'step')}, {plural(len(plan.files), 'file')}, +{plan.added} −{plan.removed} lines. "
            f"{plural(made, 'function')} become{'s' if made == 1 else ''} async"
            + (f" ({count_roles(roles)})" if roles else "")
            + f"; {plural(plan.tests, 'test line')} at risk; {plural(len(plan.manual), 'item')} left for a human.")


def _outside(plan: Plan) -> str:
    return (f"Only the files given are planned, and {plural(len(plan.outside), 'file')} outside them "
            f"({', '.join(plan.outside)}) call functions the plan makes async: the steps leave those calls "
            "as they are. Plan the whole project for steps that leave the app consistent.")


def _left_intro(plan: Plan) -> str:
    if plan.hidden_unsafe:
        return "What the fixes leave, each with its reason (some wait for the unsafe fixes left out)."
    return "What the fixes leave, each with its reason."


def _risk_note(t: TestRisk) -> str:
    if t.diagnostic.code == "AFY501":
        return "kept working by `--strategy bridge`" if t.bridged else "port it (the bridge does not cover it)"
    if t.until is not None:
        return f"blocks the event loop until step {t.until}"
    return "blocks the event loop: left for a human"


def _message(d: Diagnostic) -> str:
    return _LOCATION.sub("", d.message, count=1)  # AFY501 messages start with the location again


# -- Markdown -----------------------------------------------------------------------------------------
def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _mermaid_label(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def mermaid(d: diagrams.Diagram) -> str:
    """A left-to-right flowchart: a function's node names its module on a second line, small."""
    lines = ["flowchart LR"]
    for n in d.nodes.values():
        label = _mermaid_label(n.label if not n.group or d.by_module else f"{n.label}<br><small>{n.group}</small>")
        if n.state == diagrams.IO:
            lines.append(f"  {n.id}[({label})]")
        elif n.state == diagrams.CALL:
            lines.append(f"  {n.id}{{{{{label}}}}}")
        else:
            lines.append(f"  {n.id}[{label}]")
    arrows = {"call": "-->", "depends": "-. Depends .->", "thread": "-. thread .->"}
    lines += [f"  {ln.src} {arrows[ln.kind]} {ln.dst}" for ln in d.links]
    for state, (fill, stroke) in diagrams.COLOURS.items():
        members = [n.id for n in d.nodes.values() if n.state == state]
        if members:
            cls = "is_" + state.replace("-", "_")  # (`call` alone is a Mermaid keyword)
            lines.append(f"  classDef {cls} fill:{fill},stroke:{stroke},color:#111")
            lines.append(f"  class {','.join(members)} {cls}")
    return "\n".join(lines)


def markdown(plan: Plan) -> str:
    out = [f"# Migration plan: {plan.name}", "", summary(plan), ""]
    if plan.outside:
        out += [f"**{_outside(plan)}**", ""]
    if plan.hidden_unsafe:
        out += [f"The plan covers the safe fixes: {plural(plan.hidden_unsafe, 'more fix')} "
                "are unsafe (the migration itself needs them); `asyncify-lint plan --unsafe-fixes` plans them too.", ""]
    if plan.diagram.nodes:
        unit = "module" if plan.diagram.by_module else "function"
        out += ["## Call graph", "", f"From the endpoints down to session I/O, one node per {unit}.", "",
                "```mermaid", mermaid(plan.diagram), "```", ""]
        out += [f"- {_css_name(s)}: {diagrams.LEGEND[s]}"
                for s in diagrams.LEGEND if any(n.state == s for n in plan.diagram.nodes.values())]
        out.append("")
    if plan.functions:
        out += ["## What becomes async", "",
                f"<details><summary>{plural(len(plan.functions), 'function')}, from the endpoints down to "
                "session I/O</summary>", "", "| Function | Where | Why |", "| --- | --- | --- |"]
        for fn in plan.functions:
            why = fn.why + (f"; **not made async**: {fn.left}" if fn.left else "")
            out.append(f"| `{fn.name}` ({fn.module}) | `{fn.where}` | {_cell(why)} |")
        out += ["", "</details>", ""]
    if plan.steps.steps:
        out += ["## Steps", "",
                "Each step is one reviewable diff that leaves the app consistent; applied in order they make "
                f"exactly what `asyncify-lint --fix` makes. `{APPLY.format(n='N')}` writes step N; once it "
                "is merged, `asyncify-lint plan` plans what is left (the next step is then step 1).", ""]
        if plan.steps.merged:
            out += [f"({plural(plan.steps.merged, 'step')} merged into another: applied on its own it did not "
                    "produce what the full fix produces.)", ""]
    for step in plan.steps.steps:
        out += _markdown_step(plan, step)
    if plan.manual:
        out += ["## Left for a human", "", _left_intro(plan), "",
                "| Where | Rule | Step | Reason |", "| --- | --- | --- | --- |"]
        for m in plan.manual:
            d = m.diagnostic
            out.append(f"| `{d.path}:{d.line}` | {d.code} | {m.step or '—'} | {_cell(d.message)} |")
        out.append("")
    if plan.packages:
        out += ["## Packages to add", "", "| Package | Why | Declared |", "| --- | --- | --- |"]
        for p in plan.packages:
            out.append(f"| {' or '.join(f'`{n}`' for n in p.names)} | {_cell(p.why)} | {p.declared or 'no'} |")
        out.append("")
    return "\n".join(out)


def _markdown_step(plan: Plan, step: Step) -> list[str]:
    title, why = plan.titles[step.number]
    out = [f"### Step {step.number}: {title}", "", why, "",
           f"+{step.added} −{step.removed} lines in {plural(len(step.files), 'file')}. "
           f"Apply: `{APPLY.format(n=step.number)}`.", "",
           "Rules: " + ", ".join(f"`{rule_label(c)}`" for c in step.codes) + ".", "",
           "| File (review order) | Lines |", "| --- | --- |"]
    out += [f"| `{f.display}` | +{f.added} −{f.removed} |" for f in step.files]
    out.append("")
    if step.tests:
        out += ["Tests at risk:", "", "| Test | What | After this step |", "| --- | --- | --- |"]
        for t in step.tests:
            d = t.diagnostic
            out.append(f"| `{d.path}:{d.line}` | {d.code}: {_cell(_message(d))} | {_risk_note(t)} |")
        out.append("")
    else:
        out += ["Tests at risk: none.", ""]
    return out


def _css_name(state: str) -> str:
    return {diagrams.BECOMES: "green", diagrams.ASYNC: "blue", diagrams.BLOCKING: "red", diagrams.BLOCKED: "orange",
            diagrams.SYNC: "grey", diagrams.IO: "purple cylinder", diagrams.CALL: "red hexagon"}[state]


# -- HTML ---------------------------------------------------------------------------------------------
CHAR = 7.3  # width of a character of the node labels (12px monospace)
NODE_H, SINK_H, WAYPOINT_H, V_GAP, H_GAP, PAD = 40, 28, 4, 12, 64, 16

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1d2430; margin: 0;
       background: #f6f7f9; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 24px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 28px 0 10px; border-bottom: 1px solid #dde1e7; padding-bottom: 4px; }
h3 { font-size: 15px; margin: 0 0 6px; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; background: #eef0f3;
       padding: 1px 4px; border-radius: 3px; }
.summary { color: #3b4452; margin: 0 0 14px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0 4px; }
.card { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 8px 14px; min-width: 110px; }
.card b { display: block; font-size: 22px; }
.card span { color: #5b6574; font-size: 12px; }
.graph { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; overflow: auto; padding: 8px; }
.graph svg { display: block; max-width: 100%; height: auto; margin: 0 auto; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 8px 0 0; font-size: 12.5px; color: #3b4452; }
.legend i { display: inline-block; width: 14px; height: 14px; border: 2px solid; border-radius: 3px;
            vertical-align: -3px; margin-right: 5px; }
.step { background: #fff; border: 1px solid #dde1e7; border-radius: 8px; padding: 14px 18px; margin: 12px 0; }
.step p { margin: 4px 0 8px; color: #3b4452; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 10px; background: #fff; font-size: 13px; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid #e6e9ee; vertical-align: top; }
th { background: #f0f2f5; font-weight: 600; }
td.num { white-space: nowrap; font-variant-numeric: tabular-nums; }
.add { color: #1a7f37; } .del { color: #cf222e; }
details summary { cursor: pointer; color: #1f5fb4; margin: 6px 0; }
"""


def _e(text: object) -> str:
    return html.escape(str(text), quote=True)


def _code_spans(text: str) -> str:
    """Escaped text, its `code` spans as <code>."""
    parts = _e(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


def _node_size(d: diagrams.Diagram, n: diagrams.Node) -> tuple[float, float]:
    if not n.state:  # a waypoint of a link
        return 0, WAYPOINT_H
    sink = n.state in (diagrams.IO, diagrams.CALL)
    text = [n.label] if sink or d.by_module else [n.label, n.group]
    return max(len(t) for t in text) * CHAR + 24, (SINK_H if sink or d.by_module else NODE_H)


def _curve(sx: float, sy: float, tx: float, ty: float) -> str:
    dx = max((tx - sx) / 2, 20)
    return f" C{sx + dx:.1f},{sy:.1f} {tx - dx:.1f},{ty:.1f} {tx:.1f},{ty:.1f}"


def svg(d: diagrams.Diagram) -> str:
    """The diagram's layers as columns, left to right; links as curves from a node's right side to the
    next one's left side, through their waypoints (they run between the nodes of the layers they pass)."""
    layers = d.layers
    sizes = {n.id: _node_size(d, n) for layer in layers for n in layer}
    widths = [max((sizes[n.id][0] for n in layer), default=0) for layer in layers]
    heights = [sum(sizes[n.id][1] for n in layer) + V_GAP * max(len(layer) - 1, 0) for layer in layers]
    total_h = max(heights, default=0) + 2 * PAD
    pos: dict[str, tuple[float, float, float, float]] = {}  # id -> x, y, w, h
    x = PAD
    for layer, width, height in zip(layers, widths, heights):
        y = (total_h - height) / 2
        for n in layer:
            w, h = sizes[n.id]
            pos[n.id] = (x, y, width, h) if not n.state else (x + (width - w) / 2, y, w, h)
            y += h + V_GAP
        x += width + H_GAP
    total_w = x - H_GAP + PAD
    out = [f'<svg width="{total_w:.0f}" height="{total_h:.0f}" viewBox="0 0 {total_w:.0f} {total_h:.0f}" '
           'role="img" aria-label="call graph" font-family="ui-monospace, SFMono-Regular, Menlo, Consolas, monospace">',
           '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
           'orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#8a94a3"/></marker></defs>']
    for ln, route in zip(d.links, d.routes):
        x1, y1, w1, h1 = pos[ln.src]
        x2, y2, _w2, h2 = pos[ln.dst]
        sx, sy, tx, ty = x1 + w1, y1 + h1 / 2, x2, y2 + h2 / 2
        if tx > sx:
            path = f"M{sx:.1f},{sy:.1f}"
            for wid in route[1:-1]:
                wx, wy, ww, wh = pos[wid]
                path += _curve(sx, sy, wx, wy + wh / 2) + f" L{wx + ww:.1f},{wy + wh / 2:.1f}"
                sx, sy = wx + ww, wy + wh / 2
            path += _curve(sx, sy, tx, ty)
        else:  # a call back to a layer on the left (a cycle): around, below
            low = max(y1 + h1, y2 + h2) + 30
            path = f"M{sx:.1f},{sy:.1f} C{sx + 60:.1f},{low:.1f} {tx - 60:.1f},{low:.1f} {tx:.1f},{ty:.1f}"
        dash = {"depends": ' stroke-dasharray="6 4"', "thread": ' stroke-dasharray="2 3"'}.get(ln.kind, "")
        out.append(f'<path d="{path}" fill="none" stroke="#8a94a3" stroke-width="1.3"{dash} '
                   'marker-end="url(#arrow)"/>')
    for n in d.nodes.values():
        x0, y0, w, h = pos[n.id]
        fill, stroke = diagrams.COLOURS[n.state]
        name = n.group + "." + n.label if n.group and not d.by_module else n.label
        title = f"<title>{_e(name)}: {_e(diagrams.LEGEND[n.state])}</title>"
        if n.state == diagrams.IO:
            shape = (f'<path d="M{x0:.1f},{y0 + 5:.1f} a{w / 2:.1f},5 0 0,0 {w:.1f},0 a{w / 2:.1f},5 0 0,0 {-w:.1f},0 '
                     f'v{h - 8} a{w / 2:.1f},5 0 0,0 {w:.1f},0 v{-(h - 8)}" fill="{fill}" stroke="{stroke}" '
                     'stroke-width="1.6"/>')
        elif n.state == diagrams.CALL:
            points = [(x0 + 8, y0), (x0 + w - 8, y0), (x0 + w, y0 + h / 2), (x0 + w - 8, y0 + h), (x0 + 8, y0 + h),
                      (x0, y0 + h / 2)]
            shape = (f'<polygon points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in points)}" fill="{fill}" '
                     f'stroke="{stroke}" stroke-width="1.6"/>')
        else:
            shape = (f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{w:.1f}" height="{h}" rx="6" fill="{fill}" '
                     f'stroke="{stroke}" stroke-width="1.6"/>')
        cx = x0 + w / 2
        if h == NODE_H:
            text = (f'<text x="{cx:.1f}" y="{y0 + 15:.1f}" text-anchor="middle" font-size="10" fill="#5b6574">'
                    f'{_e(n.group)}</text><text x="{cx:.1f}" y="{y0 + 31:.1f}" text-anchor="middle" '
                    f'font-size="12" fill="#111">{_e(n.label)}</text>')
        else:
            text = (f'<text x="{cx:.1f}" y="{y0 + h / 2 + (7 if n.state == diagrams.IO else 4):.1f}" '
                    f'text-anchor="middle" font-size="12" fill="#111">{_e(n.label)}</text>')
        out.append(f"<g>{title}{shape}{text}</g>")
    out.append("</svg>")
    return "\n".join(out)


def _table(head: list[str], rows: list[list[str]], num: set[int] = frozenset()) -> str:  # type: ignore[assignment]
    cells = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f'<td{" class=num" if i in num else ""}>{c}</td>' for i, c in enumerate(r))
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"


def _lines(added: int, removed: int) -> str:
    return f'<span class="add">+{added}</span> <span class="del">−{removed}</span>'


def page(plan: Plan) -> str:
    steps = plan.steps.steps
    cards = [(len(steps), "steps"), (len(plan.files), "files change"),
             (f"+{plan.added} −{plan.removed}", "lines"),
             (sum(1 for f in plan.functions if f.left is None), "functions become async"),
             (plan.tests, "test lines at risk"), (len(plan.manual), "left for a human")]
    body = [f"<h1>Migration plan: {_e(plan.name)}</h1>", f'<p class="summary">{_e(summary(plan))}</p>',
            '<div class="cards">' + "".join(f"<div class=card><b>{_e(v)}</b><span>{_e(k)}</span></div>"
                                            for v, k in cards) + "</div>"]
    if plan.outside:
        body.append(f"<p><b>{_code_spans(_outside(plan))}</b></p>")
    if plan.hidden_unsafe:
        body.append(f"<p>The plan covers the safe fixes: {plural(plan.hidden_unsafe, 'more fix')} are unsafe (the "
                    "migration itself needs them); <code>asyncify-lint plan --unsafe-fixes</code> plans them too.</p>")
    if plan.diagram.nodes:
        unit = "module" if plan.diagram.by_module else "function"
        legend = "".join(f'<span><i style="background:{diagrams.COLOURS[s][0]};border-color:{diagrams.COLOURS[s][1]}">'
                         f"</i>{_e(diagrams.LEGEND[s])}</span>" for s in diagrams.LEGEND
                         if any(n.state == s for n in plan.diagram.nodes.values()))
        body += ["<h2>Call graph</h2>", f"<p>From the endpoints down to session I/O, one node per {unit}; dashed: "
                 "<code>Depends(...)</code>, dotted: run in a worker thread.</p>",
                 f'<div class="graph">{svg(plan.diagram)}</div>', f'<div class="legend">{legend}</div>']
    if steps:
        body += ["<h2>Steps</h2>", "<p>Each step is one reviewable diff that leaves the app consistent; applied in "
                 "order they make exactly what <code>asyncify-lint --fix</code> makes. <code>"
                 f"{_e(APPLY.format(n='N'))}</code> writes step N; once it is merged, <code>asyncify-lint plan</code> "
                 "plans what is left (the next step is then step 1).</p>"]
    for step in steps:
        title, why = plan.titles[step.number]
        files = _table(["File (review order)", "Lines"],
                       [[f"<code>{_e(f.display)}</code>", _lines(f.added, f.removed)] for f in step.files], {1})
        tests = ("<p>Tests at risk: none.</p>" if not step.tests else "<p>Tests at risk:</p>" + _table(
            ["Test", "What", "After this step"],
            [[f"<code>{_e(t.diagnostic.path)}:{t.diagnostic.line}</code>",
              f"{t.diagnostic.code}: {_code_spans(_message(t.diagnostic))}", _code_spans(_risk_note(t))]
             for t in step.tests]))
        rules = ", ".join(f"<code>{_e(rule_label(c))}</code>" for c in step.codes)
        body.append(f'<section class="step"><h3>Step {step.number}: {_code_spans(title)}</h3>'
                    f"<p>{_code_spans(why)}</p><p>{_lines(step.added, step.removed)} lines in "
                    f"{plural(len(step.files), 'file')}. Apply: <code>{_e(APPLY.format(n=step.number))}</code>. "
                    f"Rules: {rules}.</p>{files}{tests}</section>")
    if plan.manual:
        body += ["<h2>Left for a human</h2>", f"<p>{_e(_left_intro(plan))}</p>", _table(
            ["Where", "Rule", "Step", "Reason"],
            [[f"<code>{_e(m.diagnostic.path)}:{m.diagnostic.line}</code>", _e(m.diagnostic.code), _e(m.step or "—"),
              _code_spans(m.diagnostic.message)] for m in plan.manual])]
    if plan.packages:
        body += ["<h2>Packages to add</h2>", _table(
            ["Package", "Why", "Declared"],
            [[" or ".join(f"<code>{_e(n)}</code>" for n in p.names), _code_spans(p.why), _e(p.declared or "no")]
             for p in plan.packages])]
    if plan.functions:
        rows = [[f"<code>{_e(fn.name)}</code><br><small>{_e(fn.module)}</small>", f"<code>{_e(fn.where)}</code>",
                 _code_spans(fn.why) + (f"; <b>not made async</b>: {_code_spans(fn.left)}" if fn.left else "")]
                for fn in plan.functions]
        body += ["<h2>What becomes async</h2>", f"<details><summary>{plural(len(plan.functions), 'function')}, "
                 "from the endpoints down to session I/O</summary>", _table(["Function", "Where", "Why"], rows),
                 "</details>"]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>Migration plan: {_e(plan.name)}</title><style>{CSS}</style></head>"
            f"<body><main>\n" + "\n".join(body) + "\n</main></body></html>\n")
