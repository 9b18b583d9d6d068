"""The call graph as the plan draws it: endpoints → services → repositories → session I/O, each function
coloured by what the migration does to it, laid out in layers (Mermaid lays out its own; the HTML page
draws the layers computed here as SVG).

The facts are the engine's call graph (project/callgraph.py): which functions become async
(``becomes_async``: the must-become-async set and the endpoints, dependencies and handlers), which ones
cannot (``blocked``), which sync functions reach a blocking call (``blocking_next``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from asyncify_lint.project.callgraph import CallGraph, display
from asyncify_lint.project.summary import EXEMPT

# what the migration does to a function, most telling first (a module drawn as one node takes the first
# its functions have)
BLOCKED, BECOMES, BLOCKING, ASYNC, SYNC = "blocked", "becomes-async", "blocking", "async", "sync"
STATES = (BLOCKED, BECOMES, BLOCKING, ASYNC, SYNC)
# the sinks: session I/O, and blocking calls
IO, CALL = "io", "call"
LEGEND = {
    BECOMES: "becomes async",
    ASYNC: "async already",
    BLOCKING: "stays sync and blocks the event loop when async code calls it",
    BLOCKED: "must become async and cannot: left for a human",
    SYNC: "stays sync",
    IO: "session I/O (awaited after the migration)",
    CALL: "a blocking call",
}
COLOURS = {  # (fill, stroke)
    BECOMES: ("#d7f0dc", "#2e7d32"),
    ASYNC: ("#dbe7fb", "#1f5fb4"),
    BLOCKING: ("#fbdcdc", "#c62828"),
    BLOCKED: ("#ffe2c2", "#d35400"),
    SYNC: ("#eeeeee", "#757575"),
    IO: ("#ece0f5", "#6a1b9a"),
    CALL: ("#fbdcdc", "#c62828"),
}
#: above this many functions, the diagram draws one node per module
MAX_FUNCTIONS = 80


@dataclass
class Node:
    id: str
    label: str
    group: str  # the module it belongs to ("" for the sinks)
    state: str
    layer: int = 0
    order: float = 0.0  # position within its layer


@dataclass
class Link:
    src: str
    dst: str
    kind: str = "call"  # "call", "depends" (Depends(...)), "thread" (run in a worker thread)


@dataclass
class Diagram:
    nodes: dict[str, Node] = field(default_factory=dict)
    links: list[Link] = field(default_factory=list)
    by_module: bool = False  # one node per module
    node_of: dict[str, str] = field(default_factory=dict)  # function (qualname) -> its node's id
    #: where each link runs: its node ids, with a waypoint in each layer it passes (same order as links)
    routes: list[list[str]] = field(default_factory=list)
    waypoints: dict[str, Node] = field(default_factory=dict)

    @property
    def layers(self) -> list[list[Node]]:
        """The nodes and waypoints of each layer, in order."""
        every = [*self.nodes.values(), *self.waypoints.values()]
        out: list[list[Node]] = [[] for _ in range(max((n.layer for n in every), default=-1) + 1)]
        for n in every:
            out[n.layer].append(n)
        for layer in out:
            layer.sort(key=lambda n: n.order)
        return out


def state_of(graph: CallGraph, q: str, made_async: set[str] | None = None) -> str:
    """What the migration does to ``q``; ``made_async``: the functions the fixes make async (the
    analysis's own ``becomes_async`` when not given)."""
    if q in graph.blocked:
        return BLOCKED
    if (q in made_async) if made_async is not None else graph.becomes_async(q):
        return BECOMES
    if graph.functions[q].is_async:
        return ASYNC
    if q in graph.blocking_next and q in graph.reachable:  # called on the loop once its callers are async
        return BLOCKING
    return SYNC


def request_path(graph: CallGraph, within: set[str] | None = None) -> tuple[list[str], list[tuple[str, str, str]]]:
    """The functions reached from the app's entry points (endpoints, dependencies, handlers, lifespans;
    those in the files ``within`` when given), by calls, ``Depends(...)`` and worker-thread hand-offs,
    with those links (caller, callee, kind)."""
    threads: dict[str, list[str]] = {}
    for callee, edges in graph.thread.items():
        for e in edges:
            if e.caller is not None:
                threads.setdefault(e.caller, []).append(callee)
    seen = sorted(q for q in graph.functions if graph.roles.get(q) and not graph.is_test(q)
                  and (within is None or graph.file_of[q] in within))
    order = list(seen)
    known = set(seen)
    links: list[tuple[str, str, str]] = []
    i = 0
    while i < len(order):
        q = order[i]
        i += 1
        out = [(e.callee, "call") for e in graph.out.get(q, ()) if not e.site.flags & EXEMPT]
        out += [(e.callee, "depends") for e in graph.dependencies.get(q, ())]
        out += [(c, "thread") for c in threads.get(q, ())]
        for callee, kind in out:
            if graph.is_test(callee) or callee == q:
                continue
            if (q, callee, kind) not in links:
                links.append((q, callee, kind))
            if callee not in known:
                known.add(callee)
                order.append(callee)
    return order, links


def build(graph: CallGraph, made_async: set[str] | None = None, within: set[str] | None = None) -> Diagram:
    """The diagram of the request path (the entry points in the files ``within``; all when None), each
    function coloured by what the migration does to it (``made_async``: see ``state_of``)."""
    functions, links = request_path(graph, within)
    diagram = Diagram(by_module=len(functions) > MAX_FUNCTIONS)
    ids: dict[str, str] = {}  # function (or module) -> node id

    def node(key: str, label: str, group: str, state: str) -> str:
        nid = ids.get(key)
        if nid is None:
            nid = ids[key] = f"n{len(ids)}"
            diagram.nodes[nid] = Node(nid, label, group, state)
        elif state in STATES and STATES.index(state) < STATES.index(diagram.nodes[nid].state):
            diagram.nodes[nid].state = state
        return nid

    def function_node(q: str) -> str:
        module = graph.module_of[q] or graph.file_of[q]
        state = state_of(graph, q, made_async)
        if diagram.by_module:
            nid = node(module, module, module, state)
        else:
            nid = node(q, display(q, graph.module_of[q], root=True), module, state)
        diagram.node_of[q] = nid
        return nid

    def link(a: str, b: str, kind: str) -> None:
        if a != b and not any(x.src == a and x.dst == b for x in diagram.links):
            diagram.links.append(Link(a, b, kind))

    for q in functions:
        function_node(q)
    for a, b, kind in links:
        link(function_node(a), function_node(b), kind)
    for q in functions:
        f = graph.functions[q]
        if any(not io.flags & EXEMPT for io in f.session_io):
            link(function_node(q), node("\0io", "session I/O", "", IO), "call")
        calls = list(dict.fromkeys(b.text.removeprefix("builtins.") + "()" for b in f.blocking
                                   if not b.flags & EXEMPT))
        if calls:  # one node for the blocking calls of a function: the first two, and how many more
            label = ", ".join(calls[:2]) + (f" +{len(calls) - 2}" if len(calls) > 2 else "")
            key = function_node(q) if diagram.by_module else q
            link(function_node(q), node(f"\0call:{key}", label, "", CALL), "call")
    _layer(diagram)
    _order(diagram)
    return diagram


def _layer(diagram: Diagram) -> None:
    """Longest-path layers from the nodes nothing links to (the entry points), calls that close a cycle
    left out; the sinks in a last layer of their own."""
    succ: dict[str, list[str]] = {nid: [] for nid in diagram.nodes}
    preds = dict.fromkeys(diagram.nodes, 0)
    for ln in diagram.links:
        succ[ln.src].append(ln.dst)
        preds[ln.dst] += 1
    roots = [nid for nid in diagram.nodes if preds[nid] == 0] or list(diagram.nodes)[:1]
    # depth-first, from each root and then from whatever a cycle kept unreached: a link to a node on
    # the current path closes a cycle and does not count for the layers
    topo: list[str] = []
    state: dict[str, int] = {}  # 1: on the path, 2: done
    back: set[tuple[str, str]] = set()
    for start in roots + list(diagram.nodes):
        if start in state:
            continue
        state[start] = 1
        stack = [(start, iter(succ[start]))]
        while stack:
            nid, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[nid] = 2
                topo.append(nid)
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((nid, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(succ[nxt])))
    layer = dict.fromkeys(diagram.nodes, 0)
    for nid in reversed(topo):
        for nxt in succ[nid]:
            if (nid, nxt) not in back:
                layer[nxt] = max(layer[nxt], layer[nid] + 1)
    sinks = {nid for nid, n in diagram.nodes.items() if n.state in (IO, CALL)}
    last = max((layer[nid] for nid in diagram.nodes if nid not in sinks), default=-1) + 1
    for nid, n in diagram.nodes.items():
        n.layer = last if nid in sinks else layer[nid]


def _order(diagram: Diagram, sweeps: int = 8) -> None:
    """Order each layer to cross few links (Sugiyama's method): a link that spans several layers gets a
    waypoint in each layer it passes, so that it runs between nodes; then the nodes of a module kept
    together, by the barycenter of their neighbours in the layer before (after, on the way back), a few
    sweeps each way. Positions are centred, so that layers of different sizes compare."""
    nodes: dict[str, Node] = dict(diagram.nodes)
    up: dict[str, list[str]] = {nid: [] for nid in nodes}
    down: dict[str, list[str]] = {nid: [] for nid in nodes}
    diagram.routes = []
    for ln in diagram.links:
        a, b = nodes[ln.src], nodes[ln.dst]
        chain = [a.id]
        for layer in range(a.layer + 1, b.layer):
            w = Node(f"w{len(nodes)}", "", f"\0w{len(nodes)}", "", layer)
            nodes[w.id] = w
            up[w.id], down[w.id] = [], []
            chain.append(w.id)
        chain.append(b.id)
        for x, y in zip(chain, chain[1:]):
            down[x].append(y)
            up[y].append(x)
        diagram.routes.append(chain)
    diagram.waypoints = {nid: n for nid, n in nodes.items() if nid not in diagram.nodes}
    layers: list[list[Node]] = [[] for _ in range(max((n.layer for n in nodes.values()), default=-1) + 1)]
    for n in nodes.values():
        layers[n.layer].append(n)
    for layer in layers:
        for i, n in enumerate(sorted(layer, key=lambda n: (n.group, n.label))):
            n.order = i - (len(layer) - 1) / 2
    for sweep in range(sweeps):
        forward = sweep % 2 == 0
        near = up if forward else down
        for layer in (layers[1:] if forward else list(reversed(layers[:-1]))):

            centre = {n.id: _mean([nodes[m].order for m in near[n.id]], n.order) for n in layer}
            groups: dict[str, list[Node]] = {}
            for n in layer:
                groups.setdefault(n.group, []).append(n)
            ranked = sorted(groups.values(), key=lambda g: _mean([centre[n.id] for n in g], 0.0))
            placed = [n for g in ranked for n in sorted(g, key=lambda n: centre[n.id])]
            for i, n in enumerate(placed):
                n.order = i - (len(placed) - 1) / 2


def _mean(values: list[float], default: float) -> float:
    return sum(values) / len(values) if values else default
