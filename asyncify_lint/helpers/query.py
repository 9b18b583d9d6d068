"""Legacy ``Session.query(...)`` chains and mapped classes, statically.

Two things live here, shared by AFY204 (Query → ``select()``) and AFY206 (lazy loads):

* mapped-class facts: whether a name refers to a class of the project that SQLAlchemy maps (its bases
  chain to ``DeclarativeBase``, a ``declarative_base()`` product, or ``SQLModel`` with ``table=True``),
  its column and relationship attributes, and each relationship's ``lazy`` strategy;
* the anatomy of a ``session.query(...)...`` chain: the query call, the carried methods, the terminal,
  and the translation to the exact 2.0 forms of /work/shared/reference/sqlalchemy_async.md §3.

Everything is read from the ``ast``; nothing is imported or executed.
"""

from __future__ import annotations

import ast
import io
import tokenize
from dataclasses import dataclass, field

from asyncify_lint.diagnostics import Edit, ImportRequest
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers.sqla import function_def, is_session

# -- mapped classes ---------------------------------------------------------------------------

DECLARATIVE_BASES = frozenset(
    {
        "sqlalchemy.orm.DeclarativeBase",
        "sqlalchemy.orm.DeclarativeBaseNoMeta",
        "sqlalchemy.orm.decl_api.DeclarativeBase",
        "sqlalchemy.orm.decl_api.DeclarativeBaseNoMeta",
    }
)
DECLARATIVE_BASE_FACTORIES = frozenset(
    {
        "sqlalchemy.orm.declarative_base",
        "sqlalchemy.orm.decl_api.declarative_base",
        "sqlalchemy.ext.declarative.declarative_base",
    }
)
SQLMODEL = frozenset({"sqlmodel.SQLModel", "sqlmodel.main.SQLModel"})
RELATIONSHIP_FUNCS = frozenset(
    {"sqlalchemy.orm.relationship", "sqlalchemy.orm.relation", "sqlmodel.Relationship", "sqlmodel.main.Relationship"}
)
COLUMN_FUNCS = frozenset(
    {
        "sqlalchemy.Column",
        "sqlalchemy.schema.Column",
        "sqlalchemy.orm.mapped_column",
        "sqlalchemy.orm.column_property",
        "sqlalchemy.orm.deferred",
        "sqlalchemy.orm.query_expression",
        "sqlmodel.Field",
        "sqlmodel.Column",
    }
)
ALIASED = frozenset({"sqlalchemy.orm.aliased", "sqlalchemy.orm.util.aliased"})
#: calls whose value is a column expression (never an entity)
COLUMN_EXPR_FUNCS = frozenset(
    {
        "sqlalchemy.literal",
        "sqlalchemy.literal_column",
        "sqlalchemy.cast",
        "sqlalchemy.case",
        "sqlalchemy.distinct",
        "sqlalchemy.type_coerce",
        "sqlalchemy.extract",
        "sqlalchemy.sql.expression.literal",
        "sqlalchemy.sql.expression.literal_column",
        "sqlalchemy.sql.expression.cast",
        "sqlalchemy.sql.expression.case",
    }
)
FUNC_NAMESPACES = ("sqlalchemy.func.", "sqlalchemy.sql.func.", "sqlalchemy.sql.expression.func.",
                   "sqlalchemy.sql.functions.func.", "sqlmodel.func.")
EAGER_OPTIONS = frozenset({"selectinload", "joinedload", "subqueryload", "immediateload", "contains_eager",
                           "defaultload", "lazyload", "noload", "raiseload"})


@dataclass
class MappedClass:
    name: str
    ctx: FileContext
    node: ast.ClassDef
    columns: set[str] = field(default_factory=set)
    #: relationship name -> lazy strategy ("select" by default)
    relationships: dict[str, str] = field(default_factory=dict)


def resolve_class(ctx: FileContext, expr: ast.AST) -> tuple[FileContext, ast.ClassDef] | None:
    """The project class a Name/Attribute refers to (same module or another module of the project)."""
    if isinstance(expr, ast.Name):
        b = ctx.lookup(expr.id, expr)
        if b is not None and b.kind == "class" and isinstance(b.node, ast.ClassDef):
            return ctx, b.node
    qn = ctx.qualname(expr)
    if not qn or qn.startswith("builtins.") or ctx.project is None:
        return None
    return _project_binding(ctx, qn, want="class")  # type: ignore[return-value]


def _project_binding(ctx: FileContext, qn: str, want: str):
    project = ctx.project
    if project is None:
        return None
    parts = qn.split(".")
    for k in range(len(parts) - 1, 0, -1):
        mod = ".".join(parts[:k])
        if mod in project.modules:
            if k != len(parts) - 1:
                return None
            other = project.module_context(mod)
            if other is None:
                return None
            b = other.module_scope.bindings.get(parts[k])
            if b is None:
                return None
            if want == "class" and b.kind == "class" and isinstance(b.node, ast.ClassDef):
                return other, b.node
            if want == "assign" and b.kind == "assign" and b.value is not None:
                return other, b.value
            if b.kind == "import" and b.qualname and b.qualname != qn:
                return _project_binding(other, b.qualname, want)
            return None
    return None


def _base_kind(ctx: FileContext, base: ast.AST, depth: int) -> str | None:
    """What a base class expression is: "declarative" (a declarative base), "mapped" (a mapped class),
    "sqlmodel" (SQLModel or a non-table SQLModel subclass), or None."""
    if isinstance(base, ast.Call):  # Base = declarative_base() used inline
        base = base.func if ctx.qualname(base.func) in DECLARATIVE_BASE_FACTORIES else base
    qn = ctx.qualname(base)
    if qn in DECLARATIVE_BASES:
        return "declarative"
    if qn in SQLMODEL:
        return "sqlmodel"
    found = resolve_class(ctx, base)
    if found is not None:
        return _class_kind(found[0], found[1], depth + 1)
    # `Base = declarative_base()` in this or another module
    value = None
    if isinstance(base, ast.Name):
        b = ctx.lookup(base.id, base)
        if b is not None and b.kind == "assign":
            value = (ctx, b.value)
    if value is None and qn and not qn.startswith("builtins."):
        value = _project_binding(ctx, qn, want="assign")
    if value is not None:
        vctx, v = value
        if isinstance(v, ast.Call) and vctx.qualname(v.func) in DECLARATIVE_BASE_FACTORIES:
            return "declarative"
    return None


def _class_kind(ctx: FileContext, cls: ast.ClassDef, depth: int = 0) -> str | None:
    if depth > 10:
        return None
    key = f"query.kind:{id(cls)}"
    if key in ctx.cache:
        return ctx.cache[key]
    ctx.cache[key] = None  # cycles
    kinds = {_base_kind(ctx, b, depth) for b in cls.bases}
    abstract = any(
        isinstance(s, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__abstract__" for t in s.targets)
        and isinstance(s.value, ast.Constant)
        and s.value.value is True
        for s in cls.body
    )
    out: str | None = None
    if "sqlmodel" in kinds:
        table = any(k.arg == "table" and isinstance(k.value, ast.Constant) and k.value.value is True
                    for k in cls.keywords)
        out = "mapped" if table else "sqlmodel"
    elif "declarative" in kinds or "mapped" in kinds:
        out = "declarative" if abstract or _is_declarative_root(ctx, cls) else "mapped"
    ctx.cache[key] = out
    return out


def _is_declarative_root(ctx: FileContext, cls: ast.ClassDef) -> bool:
    """``class Base(DeclarativeBase)``: the base itself is not mapped."""
    return any(ctx.qualname(b) in DECLARATIVE_BASES for b in cls.bases)


def _call_qualname(ctx: FileContext, value: ast.AST | None) -> str | None:
    if isinstance(value, ast.Call) and isinstance(value.func, (ast.Name, ast.Attribute)):
        return ctx.qualname(value.func)
    return None


def _lazy_of(call: ast.Call) -> str:
    for kw in call.keywords:
        if kw.arg == "lazy" and isinstance(kw.value, ast.Constant):
            return str(kw.value.value)
        if kw.arg == "sa_relationship_kwargs" and isinstance(kw.value, ast.Dict):
            for k, v in zip(kw.value.keys, kw.value.values):
                if isinstance(k, ast.Constant) and k.value == "lazy" and isinstance(v, ast.Constant):
                    return str(v.value)
    return "select"


def mapped_class(ctx: FileContext, expr: ast.AST) -> MappedClass | None:
    """The mapped class ``expr`` names, with its columns and relationships (inherited ones included)."""
    found = resolve_class(ctx, expr)
    if found is None:
        return None
    return _mapped(found[0], found[1])


def is_mapped_class(ctx: FileContext, cls: ast.ClassDef) -> bool:
    """Whether the class defined by ``cls`` (in ``ctx``'s module) is a mapped class."""
    return _class_kind(ctx, cls) == "mapped"


def _mapped(ctx: FileContext, cls: ast.ClassDef, depth: int = 0) -> MappedClass | None:
    if _class_kind(ctx, cls) != "mapped" or depth > 10:
        return None
    key = f"query.mapped:{id(cls)}"
    if key in ctx.cache:
        return ctx.cache[key]
    mc = MappedClass(cls.name, ctx, cls)
    sqlmodel_cls = any(_base_kind(ctx, b, 0) == "sqlmodel" for b in cls.bases)
    for b in cls.bases:  # inherited (single/joined table inheritance, mixins are not followed)
        found = resolve_class(ctx, b)
        if found is not None:
            parent = _mapped(found[0], found[1], depth + 1)
            if parent is not None:
                mc.columns |= parent.columns
                mc.relationships.update(parent.relationships)
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            name, value, ann = stmt.targets[0].id, stmt.value, None
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            name, value, ann = stmt.target.id, stmt.value, stmt.annotation
        else:
            continue
        if name.startswith("__"):
            continue
        qn = _call_qualname(ctx, value)
        if qn in RELATIONSHIP_FUNCS:
            mc.relationships[name] = _lazy_of(value)  # type: ignore[arg-type]
        elif qn in COLUMN_FUNCS:
            mc.columns.add(name)
        elif ann is not None and value is None:
            head = ann.value if isinstance(ann, ast.Subscript) else ann
            hq = ctx.qualname(head) if isinstance(head, (ast.Name, ast.Attribute)) else None
            if hq in ("sqlalchemy.orm.Mapped", "typing.ClassVar") and hq != "sqlalchemy.orm.Mapped":
                continue
            if hq == "sqlalchemy.orm.Mapped" or sqlmodel_cls:
                mc.columns.add(name)
    ctx.cache[key] = mc
    return mc


# -- query chains -----------------------------------------------------------------------------

#: Query methods that return a Query and exist on ``Select`` with the same meaning (verified, §3)
CARRIED = frozenset(
    {"filter", "filter_by", "where", "join", "outerjoin", "order_by", "offset", "limit", "options", "group_by",
     "having", "distinct", "with_for_update", "execution_options", "select_from"}
)
#: Query methods that return a Query but are not carried over mechanically (the chain goes on)
QUERY_RETURNING = CARRIED | frozenset(
    {"populate_existing", "with_entities", "add_columns", "add_entity", "yield_per", "union", "union_all",
     "except_", "except_all", "intersect", "intersect_all", "params", "from_statement", "enable_eagerloads",
     "correlate", "reset_joinpoint", "with_parent", "with_hint", "prefix_with", "suffix_with", "autoflush",
     "with_labels", "set_label_style", "enable_assertions", "with_transformation", "with_session",
     "only_return_tuples", "tuples", "with_polymorphic", "select_entity_from", "slice", "with_statement_hint",
     "distinct", "join", "filter"}
)
RESULT_TERMINALS = frozenset({"all", "first", "one", "one_or_none", "scalar", "count", "get", "update", "delete"})


@dataclass
class Step:
    kind: str  # "call" (a method call), "slice" (q[a:b]), "attr" (a trailing attribute, e.g. `.statement`)
    name: str
    node: ast.AST  # the Call / Subscript / Attribute


@dataclass
class Chain:
    query: ast.Call  # session.query(...)
    receiver: ast.AST  # the session expression
    steps: list[Step]  # query-returning steps, innermost first
    terminal: Step | None  # the step that ends the chain (a result, or something unknown)
    outer: ast.AST  # the whole expression (the terminal's node, or the last step / the query)

    @property
    def stmt_node(self) -> ast.AST:
        return self.steps[-1].node if self.steps else self.query


def is_query_call(ctx: FileContext, node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "query"
        and is_session(ctx, node.func.value)
    )


def chain_of(ctx: FileContext, query: ast.Call) -> Chain:
    """Walk up from ``session.query(...)`` through the Query-returning methods."""
    steps: list[Step] = []
    terminal: Step | None = None
    cur: ast.AST = query
    while True:
        p = ctx.parent(cur)
        if isinstance(p, ast.Attribute) and p.value is cur:
            gp = ctx.parent(p)
            if isinstance(gp, ast.Call) and gp.func is p:
                step = Step("call", p.attr, gp)
                if p.attr in QUERY_RETURNING:
                    steps.append(step)
                    cur = gp
                    continue
                terminal = step
                cur = gp
            else:
                terminal = Step("attr", p.attr, p)
                cur = p
            break
        if isinstance(p, ast.Subscript) and p.value is cur and isinstance(p.ctx, ast.Load):
            terminal = Step("slice", "[]", p)
            cur = p
        break
    return Chain(query, query.func.value, steps, terminal, cur)  # type: ignore[attr-defined]


def nested_in_other_query(ctx: FileContext, query: ast.Call) -> bool:
    """``query`` sits in the arguments of another session query's chain (that one covers it)."""
    for a in ctx.ancestors(query):
        if isinstance(a, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.stmt)):
            return False
        b = a
        while isinstance(b, (ast.Call, ast.Attribute, ast.Subscript)):
            if b is not query and is_query_call(ctx, b):
                return True
            b = b.func if isinstance(b, ast.Call) else b.value
    return False


def entity_kind(ctx: FileContext, expr: ast.AST) -> str | None:
    """"entity", "column", or None when it cannot be told statically."""
    if isinstance(expr, (ast.Name, ast.Attribute)) and mapped_class(ctx, expr) is not None:
        return "entity"
    if isinstance(expr, ast.Call) and isinstance(expr.func, (ast.Name, ast.Attribute)):
        qn = ctx.qualname(expr.func) or ""
        if qn in ALIASED and expr.args and mapped_class(ctx, expr.args[0]) is not None:
            return "entity"
        if qn in COLUMN_EXPR_FUNCS or qn.startswith(FUNC_NAMESPACES):
            return "column"
        if isinstance(expr.func, ast.Attribute) and expr.func.attr == "label" and not expr.keywords:
            return entity_kind(ctx, expr.func.value) if entity_kind(ctx, expr.func.value) == "column" else None
    if isinstance(expr, ast.Attribute):
        mc = mapped_class(ctx, expr.value)
        if mc is not None and expr.attr in mc.columns:
            return "column"
    return None


def shape(ctx: FileContext, chain: Chain) -> str | None:
    """"entity" (one entity), "columns" (no entity), "mixed" (several, one at least an entity), or None."""
    args = chain.query.args
    if not args or chain.query.keywords or any(isinstance(a, ast.Starred) for a in args):
        return None
    kinds = [entity_kind(ctx, a) for a in args]
    if None in kinds:
        return None
    if kinds == ["entity"]:
        return "entity"
    return "mixed" if "entity" in kinds else "columns"


def has_comment(ctx: FileContext, start: int, end: int) -> bool:
    text = ctx.source.text[start:end]
    if "#" not in text:
        return False
    try:
        for tok in tokenize.generate_tokens(io.StringIO(text).readline):
            if tok.type == tokenize.COMMENT:
                return True
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return True
    return False


def uses_expr(root: ast.AST, target: ast.AST) -> list[ast.AST]:
    """Sub-expressions of ``root`` structurally equal to ``target`` (e.g. other uses of the session)."""
    want = ast.dump(target)
    return [n for n in ast.walk(root) if isinstance(n, type(target)) and ast.dump(n) == want]


def names_in(root: ast.AST) -> set[str]:
    out = set()
    for n in ast.walk(root):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.arg):
            out.add(n.arg)
    return out


def ref(ctx: FileContext, node: ast.AST, module: str, name: str) -> tuple[str, ImportRequest | None] | None:
    """``import_ref`` that also checks the spelling is not shadowed by a local name at ``node``."""
    spelling, req = ctx.import_ref(module, name)
    head = spelling.split(".")[0]
    b = ctx.lookup(head, node)
    mod_b = ctx.module_scope.bindings.get(head)
    if b is not None and b is not mod_b:
        return None  # a local of the function shadows it
    if req is not None and req.name is None and head in ctx.module_scope.bindings:
        return None
    return spelling, req


@dataclass
class Rewrite:
    edits: list[Edit]
    imports: list[ImportRequest]
    form: str  # short description for the fix title
    exact: bool = True  # False: the run_sync fallback


class Bail(Exception):
    pass


def _const_nonneg_int(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value >= 0


def _wrap_await(ctx: FileContext, node: ast.AST, text: str) -> tuple[str, str]:
    from asyncify_lint.helpers.rewrites import needs_parentheses

    p = ctx.parent(node)
    if isinstance(p, ast.Await):  # `await <legacy>`: that await is dropped, its context counts
        node = p
    if needs_parentheses(ctx, node) and not ctx.is_parenthesized(node):
        return "(" + text, ")"
    return text, ""


def rewrite(ctx: FileContext, chain: Chain, iterated: bool) -> Rewrite | None:
    """The exact 2.0 rewrite of ``chain`` (§3 of the reference), the run_sync fallback, or None."""
    try:
        rw = _exact(ctx, chain, iterated)
        if rw is None:
            rw = _fallback(ctx, chain)
    except Bail:
        return None
    p = ctx.parent(chain.outer)
    if rw is not None and isinstance(p, ast.Await):
        # `await db.query(...).all()` (awaiting a list): the rewrite brings its own await
        rw.edits.append(Edit(ctx.start(p), ctx.start(chain.outer), ""))
    return rw


def _need(ctx: FileContext, node: ast.AST, module: str, name: str, imports: list[ImportRequest]) -> str:
    r = ref(ctx, node, module, name)
    if r is None:
        raise Bail
    if r[1] is not None:
        imports.append(r[1])
    return r[0]


def _exact(ctx: FileContext, chain: Chain, iterated: bool) -> Rewrite | None:
    sh = shape(ctx, chain)
    if sh is None:
        return None
    if any(s.name not in CARRIED | {"populate_existing"} for s in chain.steps):
        return None
    # any other use of the session inside the chain (a nested session.query) needs the fallback
    if len(uses_expr(chain.outer, chain.receiver)) != 1:
        return None
    term = chain.terminal
    if term is None and not iterated:
        return None
    if term is not None and iterated:
        return None
    if term is not None and term.kind == "call" and term.name not in RESULT_TERMINALS:
        return None
    if term is not None and term.kind == "attr":
        return None
    text = ctx.source.text
    recv = ctx.segment(chain.receiver)
    imports: list[ImportRequest] = []
    q = chain.query
    qstart = ctx.start(q)
    qfunc_end = ctx.end(q.func)
    edits: list[Edit] = []
    for s in chain.steps:
        if s.name == "populate_existing":
            call = s.node
            assert isinstance(call, ast.Call)
            if call.args or call.keywords:
                return None
            attr = call.func
            edits.append(Edit(ctx.end(attr) - len("populate_existing"), ctx.end(call),
                              "execution_options(populate_existing=True)"))
    stmt_end = ctx.end(chain.stmt_node)

    if term is not None and term.kind == "call" and term.name == "get":
        return _get(ctx, chain, sh, recv, imports)
    if term is not None and term.kind == "call" and term.name in ("update", "delete"):
        return _bulk(ctx, chain, sh, recv, imports, edits)

    select = _need(ctx, q, "sqlalchemy", "select", imports)
    suffix_close = ""
    if iterated:
        if sh == "entity":
            prefix, after, tail, form = f"(await {recv}.scalars(", "))", ".unique()", "(await db.scalars(select(...))).unique()"
        elif sh == "mixed":
            prefix, after, tail, form = f"(await {recv}.execute(", "))", ".unique()", "(await db.execute(select(...))).unique()"
        else:
            prefix, after, tail, form = f"(await {recv}.execute(", "))", "", "(await db.execute(select(...)))"
        edits.append(Edit(qstart, qfunc_end, prefix + select))
        edits.append(Edit(stmt_end, stmt_end, after + tail))
        return Rewrite(edits, imports, form.replace("db", recv, 1))

    assert term is not None
    name = term.name
    tnode = term.node
    if term.kind == "slice":
        assert isinstance(tnode, ast.Subscript)
        sl = tnode.slice
        if not isinstance(sl, ast.Slice) or sl.step is not None or sl.upper is None:
            return None
        if not (sl.lower is None or _const_nonneg_int(sl.lower)) or not _const_nonneg_int(sl.upper):
            return None
        lower = 0 if sl.lower is None else sl.lower.value  # type: ignore[union-attr]
        if sl.upper.value - lower <= 0:  # type: ignore[union-attr]
            return None
        slice_text = f".slice({ctx.segment(sl.lower) if sl.lower is not None else '0'}, {ctx.segment(sl.upper)})"
        if has_comment(ctx, stmt_end, ctx.end(tnode)):
            return None
        if sh == "entity":
            prefix, close, form = f"(await {recv}.scalars(", ")).unique().all()", "(await db.scalars(select(...).slice(...))).unique().all()"
        elif sh == "mixed":
            prefix, close, form = f"(await {recv}.execute(", ")).unique().all()", "(await db.execute(select(...).slice(...))).unique().all()"
        else:
            prefix, close, form = f"(await {recv}.execute(", ")).all()", "(await db.execute(select(...).slice(...))).all()"
        edits.append(Edit(qstart, qfunc_end, prefix + select))
        edits.append(Edit(stmt_end, ctx.end(tnode), slice_text + close))
        return Rewrite(edits, imports, form.replace("db", recv, 1))

    assert isinstance(tnode, ast.Call)
    if tnode.args or tnode.keywords:
        return None
    name_start = ctx.end(tnode.func) - len(name)
    call_end = ctx.end(tnode)
    if name == "count":
        func = _need(ctx, q, "sqlalchemy", "func", imports)
        prefix, close = _wrap_await(ctx, tnode, f"await {recv}.scalar({select}({func}.count()).select_from(")
        edits.append(Edit(qstart, qfunc_end, prefix + select))
        edits.append(Edit(name_start, call_end, "subquery()))" + close))
        return Rewrite(edits, imports, f"`await {recv}.scalar(select(func.count()).select_from(...subquery()))`")
    limit = ".limit(1)" if name == "first" else ""
    if sh == "entity":
        prefix = f"(await {recv}.scalars("
        new_term = {"all": "unique().all()", "first": "unique().first()", "one": "unique().one()",
                    "one_or_none": "unique().one_or_none()", "scalar": "unique().one_or_none()"}[name]
        form = f"(await {recv}.scalars(select(...){limit})).{new_term}"
    elif sh == "mixed":
        if name == "scalar":
            return None
        prefix = f"(await {recv}.execute("
        new_term = f"unique().{name}()"
        form = f"(await {recv}.execute(select(...){limit})).{new_term}"
    else:
        prefix = f"(await {recv}.execute("
        new_term = "scalar_one_or_none()" if name == "scalar" else f"{name}()"
        form = f"(await {recv}.execute(select(...){limit})).{new_term}"
    edits.append(Edit(qstart, qfunc_end, prefix + select))
    edits.append(Edit(stmt_end, stmt_end, limit + "))" + suffix_close))
    if new_term != f"{name}()":
        edits.append(Edit(name_start, call_end, new_term))
    _ = text
    return Rewrite(edits, imports, f"`{form}`")


def _get(ctx: FileContext, chain: Chain, sh: str, recv: str, imports: list[ImportRequest]) -> Rewrite | None:
    term = chain.terminal
    assert term is not None and isinstance(term.node, ast.Call)
    call = term.node
    if sh != "entity" or len(call.args) != 1 or call.keywords or isinstance(call.args[0], ast.Starred):
        return None
    options: list[str] = []
    populate = False
    for s in chain.steps:
        c = s.node
        assert isinstance(c, ast.Call)
        if s.name == "options" and not c.keywords and not any(isinstance(a, ast.Starred) for a in c.args):
            options.extend(ctx.segment(a) for a in c.args)
        elif s.name == "populate_existing" and not c.args and not c.keywords:
            populate = True
        else:
            return None
    if has_comment(ctx, ctx.start(chain.query), ctx.end(call)):
        return None
    entity = ctx.segment(chain.query.args[0])
    parts = [entity, ctx.segment(call.args[0])]
    if options:
        parts.append(f"options=[{', '.join(options)}]")
    if populate:
        parts.append("populate_existing=True")
    prefix, close = _wrap_await(ctx, call, f"await {recv}.get(")
    return Rewrite([Edit(ctx.start(chain.query), ctx.end(call), prefix + ", ".join(parts) + ")" + close)], imports,
                   f"`await {recv}.get(...)`")


def _bulk(ctx: FileContext, chain: Chain, sh: str, recv: str, imports: list[ImportRequest],
          edits: list[Edit]) -> Rewrite | None:
    term = chain.terminal
    assert term is not None and isinstance(term.node, ast.Call)
    call = term.node
    if sh != "entity" or any(s.name not in ("filter", "filter_by", "where") for s in chain.steps):
        return None
    if isinstance(chain.query.args[0], ast.Call):  # aliased(...)
        return None
    kw = {k.arg: k.value for k in call.keywords}
    if None in kw or set(kw) - {"synchronize_session", "values"}:
        return None
    if term.name == "update":
        values = call.args[0] if call.args else kw.get("values")
        if values is None or len(call.args) > 2 or (call.args and "values" in kw):
            return None
        sync = call.args[1] if len(call.args) > 1 else kw.get("synchronize_session")
    else:
        if call.args or "values" in kw:
            return None
        values = None
        sync = kw.get("synchronize_session")
    if has_comment(ctx, ctx.end(chain.stmt_node), ctx.end(call)):
        return None
    fn = _need(ctx, chain.query, "sqlalchemy", term.name, imports)
    q = chain.query
    prefix = f"(await {recv}.execute("
    new = ""
    if values is not None:
        new += f".values({ctx.segment(values)})"
    if sync is not None:
        new += f".execution_options(synchronize_session={ctx.segment(sync)})"
    edits = list(edits)
    edits.append(Edit(ctx.start(q), ctx.end(q.func), prefix + fn))
    edits.append(Edit(ctx.end(chain.stmt_node), ctx.end(call), new + ")).rowcount"))
    return Rewrite(edits, imports, f"`(await {recv}.execute({term.name}(...)...)).rowcount`")


def _fallback(ctx: FileContext, chain: Chain) -> Rewrite | None:
    """``await db.run_sync(lambda s: <the original expression, the session renamed to s>)``."""
    term = chain.terminal
    if term is None or term.kind not in ("call", "slice"):
        return None  # a Query (or something lazy) would escape the greenlet
    outer = chain.outer
    recv = chain.receiver
    if not isinstance(recv, (ast.Name, ast.Attribute)):
        return None
    uses = uses_expr(outer, recv)
    # the session's name must mean the same object everywhere inside (no rebinding inside the expression)
    root = recv
    while isinstance(root, ast.Attribute):
        root = root.value
    if not isinstance(root, ast.Name):
        return None
    for n in ast.walk(outer):
        if isinstance(n, (ast.Lambda, ast.comprehension, ast.NamedExpr)):
            bound = names_in(n.args) if isinstance(n, ast.Lambda) else names_in(n.target)
            if root.id in bound:
                return None
    used = names_in(outer)
    param = next(p for p in ("s", "sync_session", "sync_session_") if p not in used)
    recv_text = ctx.segment(recv)
    prefix, close = _wrap_await(ctx, outer, f"await {recv_text}.run_sync(lambda {param}: ")
    start, end = ctx.start(outer), ctx.end(outer)
    edits = [Edit(start, start, prefix)]
    for u in uses:
        edits.append(Edit(ctx.start(u), ctx.end(u), param))
    edits.append(Edit(end, end, ")" + close))
    # the first edit (insertion) and the first rename both start at `start`: merge them
    edits.sort(key=lambda e: (e.start, e.end))
    merged: list[Edit] = []
    for e in edits:
        if merged and merged[-1].start == merged[-1].end == e.start and e.end > e.start:
            ins = merged.pop()
            merged.append(Edit(e.start, e.end, ins.content + e.content))
        else:
            merged.append(e)
    return Rewrite(merged, [], f"`await {recv_text}.run_sync(lambda {param}: ...)`", exact=False)


def iterated(ctx: FileContext, chain: Chain) -> bool:
    """The chain (without a terminal) is what a ``for`` loop or a comprehension iterates over."""
    p = ctx.parent(chain.outer)
    if isinstance(p, ast.For) and p.iter is chain.outer:
        return True
    if isinstance(p, ast.comprehension) and p.iter is chain.outer and not p.is_async:
        comp = ctx.parent(p)
        # only the first iterable is evaluated in the enclosing scope
        return isinstance(comp, (ast.ListComp, ast.SetComp, ast.DictComp)) and comp.generators[0] is p
    return False


_OPTIONAL = frozenset({"typing.Optional"})


def mapped_annotation(ctx: FileContext, ann: ast.AST | None) -> MappedClass | None:
    """The mapped class an annotation names: ``M``, ``M | None``, ``Optional[M]``."""
    if isinstance(ann, ast.BinOp) and isinstance(ann.op, ast.BitOr):
        sides = [x for x in (ann.left, ann.right) if not (isinstance(x, ast.Constant) and x.value is None)]
        ann = sides[0] if len(sides) == 1 else ann
    elif isinstance(ann, ast.Subscript) and ctx.qualname(ann.value) in _OPTIONAL:
        ann = ann.slice
    if not isinstance(ann, (ast.Name, ast.Attribute)):
        return None
    return mapped_class(ctx, ann)


def returned_mapped_class(ctx: FileContext, value: ast.AST) -> MappedClass | None:
    """``await f(...)`` of a project ``async def`` annotated to return one mapped instance (``-> M``,
    ``-> M | None``, ``-> Optional[M]``)."""
    if not (isinstance(value, ast.Await) and isinstance(value.value, ast.Call)):
        return None
    found = function_def(ctx, value.value.func)
    if found is None or not isinstance(found[1], ast.AsyncFunctionDef) or found[1].returns is None:
        return None
    return mapped_annotation(found[0], found[1].returns)
