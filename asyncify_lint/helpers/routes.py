"""The project's HTTP routes, statically: which endpoint a test's ``client.get("/orders/1")`` reaches.

Routes come from route decorators (``@router.post("/")``, on module-level functions, methods of
class-based views and functions declared in an app factory) and
``add_api_route(path, endpoint, methods=[...])`` calls, the router's ``APIRouter(prefix=...)`` and
every ``include_router(router, prefix=...)`` (nested routers included), with the dependencies the
routers on the way give their routes (``dependencies=[Depends(auth)]``).
Only literal strings count: a prefix the analysis cannot read (``prefix=settings.API_V1_STR``) or a
router whose mounting it cannot see makes the route *unanchored*: it then matches any request path
that ends with its known part. A request's path comes from a literal or f-string URL (formatted values
match any one segment; one that starts the URL, ``f"{settings.API_V1_STR}/items/"``, any prefix); a
route's ``{param}`` matches any one segment, ``{param:path}`` the rest.
Among the routes a request matches, the ones with most literal segments in common win (then the ones
whose parameters take the request's formatted values), as Starlette's first match usually is the more
specific route.
"""

from __future__ import annotations

import ast
from typing import NamedTuple

from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import fastapi

HTTP_METHODS = frozenset({"get", "post", "put", "patch", "delete", "head", "options"})
_TEST_HOSTS = frozenset({"testserver", "test", "localhost", "127.0.0.1"})
_NOT_CLIENTS = ("requests", "httpx", "urllib", "urllib3", "aiohttp")
_HOLE = "\0"  # a formatted value inside a URL
PARAM, REST = 1, 2  # route segments that are not literal: `{x}`, `{x:path}`


class Route(NamedTuple):
    methods: frozenset[str]  # upper case
    segments: tuple[object, ...]  # literal str, PARAM or REST
    anchored: bool  # every prefix is known: the path must match whole, not only its end
    endpoint: str  # the endpoint function's qualified name
    relpath: str
    line: int
    #: qualified names of the dependencies its routers give it (``APIRouter(dependencies=[...])``,
    #: ``include_router(..., dependencies=[...])``, ``FastAPI(dependencies=[...])``)
    dependencies: tuple[str, ...] = ()


class _Router(NamedTuple):
    is_app: bool
    prefix: str | None  # APIRouter(prefix=...): None when not a literal
    dependencies: tuple[str, ...] = ()


def _literal(expr: ast.AST | None) -> str | None:
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return expr.value
    return None


def _prefix(call: ast.Call) -> str | None:
    """The literal ``prefix=`` of an ``APIRouter(...)`` / ``include_router(...)`` call ("" when absent,
    None when it is not a literal or may come from ``**options``)."""
    for k in call.keywords:
        if k.arg == "prefix":
            return _literal(k.value)
    if any(k.arg is None for k in call.keywords):
        return None
    return ""


def _key(ctx: FileContext, expr: ast.AST) -> str | None:
    """Qualified name of a module-level app/router value: ``pkg.mod.router`` (``qualname`` follows
    imports and re-exports)."""
    if isinstance(expr, ast.Name) and ctx.module:
        b = ctx.module_scope.bindings.get(expr.id)
        if b is not None and b.kind == "assign" and ctx.lookup(expr.id, expr) is b:
            return f"{ctx.module}.{expr.id}"
    return ctx.qualname(expr)


def project_routes(project) -> list[Route]:
    """Every route of the project's (non-test) modules; computed once per project state."""
    return project.fact("routes.table", _build)  # type: ignore[return-value]


def _build(project) -> list[Route]:
    routers: dict[str, _Router] = {}
    mounts: dict[str, list[tuple[str | None, str | None]]] = {}  # router -> [(parent key, include prefix)]
    raw: list[tuple[str | None, str, frozenset[str], str, str, int]] = []
    for ctx in project.contexts_containing((b"FastAPI", b"APIRouter")):
        if ctx.is_test or not ctx.module:
            continue
        for name, b in ctx.module_scope.bindings.items():
            if b.kind == "assign" and isinstance(b.value, ast.Call):
                t = ctx.type_of(b.value)
                if t in fastapi.APP_TYPES:
                    prefix = "" if t == "fastapi.FastAPI" else _prefix(b.value)
                    routers[f"{ctx.module}.{name}"] = _Router(t == "fastapi.FastAPI", prefix,
                                                              _dependencies(ctx, b.value))
        for call in ctx.nodes_of(ast.Call):
            func = call.func  # type: ignore[attr-defined]
            if not isinstance(func, ast.Attribute) or func.attr not in ("include_router", "add_api_route"):
                continue
            if func.attr == "include_router" and call.args:  # type: ignore[attr-defined]
                if fastapi.is_app(ctx, func.value):
                    child = _key(ctx, call.args[0])  # type: ignore[attr-defined]
                    if child is not None:
                        mounts.setdefault(child, []).append(  # type: ignore[arg-type]
                            (_key(ctx, func.value), _prefix(call), _dependencies(ctx, call)))  # type: ignore[arg-type]
            elif func.attr == "add_api_route" and fastapi.is_app(ctx, func.value):
                # `app.add_api_route("/items", list_items, methods=["GET"])`: a route like a decorator's
                path = _literal(fastapi.call_arg(call, 0, "path"))  # type: ignore[arg-type]
                endpoint = fastapi.call_arg(call, 1, "endpoint")  # type: ignore[arg-type]
                qn = ctx.qualname(endpoint) if isinstance(endpoint, (ast.Name, ast.Attribute)) else None
                methods = _methods(call, "api_route")  # type: ignore[arg-type]
                if path is not None and qn and methods is not None:
                    # shown at the endpoint's def when it is in this module, else at the call
                    b = ctx.lookup(endpoint.id, endpoint) if isinstance(endpoint, ast.Name) else None
                    line = b.node.lineno if b is not None and b.kind == "def" else call.lineno  # type: ignore[union-attr,attr-defined]
                    raw.append((_key(ctx, func.value), path, methods, qn, ctx.display_path, line))
        summary = project.summary(ctx.display_path)
        for stmt in ctx.nodes_of(ast.FunctionDef, ast.AsyncFunctionDef):
            for dec in stmt.decorator_list:  # type: ignore[attr-defined]
                verb = fastapi.route_decorator(ctx, dec)
                if verb is None or verb in ("websocket", "trace"):
                    continue
                # the qualified name the call graph gives it (`app.main.create_app.<locals>.health` for a
                # def in an app factory, `app.views.ItemViews.list` for a method of a class-based view)
                f = summary.function_at(stmt.lineno, stmt.col_offset) if summary is not None else None  # type: ignore[attr-defined]
                if f is None:
                    continue
                path = _literal(fastapi.call_arg(dec, 0, "path"))  # type: ignore[arg-type]
                methods = _methods(dec, verb)  # type: ignore[arg-type]
                if path is None or methods is None:
                    continue
                raw.append((_key(ctx, dec.func.value), path, methods, f.qualname,  # type: ignore[attr-defined]
                            ctx.display_path, stmt.lineno))
    out = []
    for router, path, methods, endpoint, rel, line in raw:
        for known, anchored, deps in _prefixes(router, routers, mounts, 0):
            out.append(Route(methods, _segments(known + path), anchored, endpoint, rel, line, deps))
    return out


def _methods(dec: ast.Call, verb: str) -> frozenset[str] | None:
    """The methods of a route decorator (or ``add_api_route`` call: ``verb`` "api_route"); None when
    ``methods=`` is not a literal list."""
    if verb != "api_route":
        return frozenset({verb.upper()})
    value = next((k.value for k in dec.keywords if k.arg == "methods"), None)
    if value is None:
        return frozenset({"GET"})
    if isinstance(value, (ast.List, ast.Tuple, ast.Set)):
        names = [_literal(e) for e in value.elts]
        if all(names):
            return frozenset(n.upper() for n in names)  # type: ignore[union-attr]
    return None


def _prefixes(router: str | None, routers: dict[str, _Router], mounts: dict,
              depth: int) -> list[tuple[str, bool, tuple[str, ...]]]:
    """The known prefixes of a router's routes: (text, anchored, the dependencies the routers on the
    way give), one per way it is mounted."""
    r = routers.get(router or "")
    if r is None or depth > 8:
        return [("", False, ())]
    own = r.prefix
    if r.is_app:
        return [("", True, r.dependencies)]
    found = []
    for parent, inc, inc_deps in mounts.get(router, ()) or [(None, "", ())]:
        for text, anchored, deps in (_prefixes(parent, routers, mounts, depth + 1) if parent is not None
                                     else [("", False, ())]):
            if inc is None:
                text, anchored = "", False
            else:
                text += inc
            deps = deps + inc_deps + r.dependencies
            found.append(("", False, deps) if own is None else (text + own, anchored, deps))
    return sorted(set(found))


def _dependencies(ctx: FileContext, call: ast.Call) -> tuple[str, ...]:
    """The qualified names of the ``dependencies=[Depends(f), ...]`` a router, an app or an
    ``include_router`` call gives its routes."""
    value = next((k.value for k in call.keywords if k.arg == "dependencies"), None)
    out = []
    if isinstance(value, (ast.List, ast.Tuple)):
        for e in value.elts:
            if isinstance(e, ast.Call) and isinstance(e.func, (ast.Name, ast.Attribute)):
                if ctx.qualname(e.func) in fastapi.DEPENDS:
                    dep = fastapi.call_arg(e, 0, "dependency")
                    qn = ctx.qualname(dep) if isinstance(dep, (ast.Name, ast.Attribute)) else None
                    if qn:
                        out.append(qn)
    return tuple(out)


def _segments(path: str) -> tuple[object, ...]:
    out: list[object] = []
    for part in path.strip("/").split("/"):
        if not part:
            continue
        if "{" in part:
            out.append(REST if part.endswith(":path}") else PARAM)
            if out[-1] is REST:
                break
        else:
            out.append(part)
    return tuple(out)


# -- requests in tests -----------------------------------------------------------------------------
def _text(expr: ast.AST) -> str | None:
    """A URL expression as text, formatted values as holes (None when not a string expression)."""
    if isinstance(expr, ast.Constant):
        return expr.value if isinstance(expr.value, str) else None
    if isinstance(expr, ast.JoinedStr):
        parts = []
        for v in expr.values:
            parts.append(v.value if isinstance(v, ast.Constant) and isinstance(v.value, str) else _HOLE)
        return "".join(parts)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        left = _text(expr.left)
        if left is None:
            return None
        right = _text(expr.right)
        return left + (_HOLE if right is None else right)
    return None


class Request(NamedTuple):
    method: str  # upper case
    shown: str  # the path as written, formatted values as {…}
    segments: tuple[str | None, ...]  # None: a segment that holds a formatted value
    loose: bool  # the URL starts with a formatted value (f"{settings.API_V1_STR}/items/"): any prefix


def request_of(ctx: FileContext, call: ast.Call) -> Request | None:
    """``client.post("/orders/", ...)`` → Request("POST", "/orders/", ("orders",), False); None for
    what is not a request to the app under test."""
    func = call.func
    if not isinstance(func, ast.Attribute) or not isinstance(func.value, (ast.Name, ast.Attribute)):
        return None
    verb, args = func.attr, list(call.args)
    if verb == "request" and args:
        method = _literal(args.pop(0))
        if method is None or method.lower() not in HTTP_METHODS:
            return None
        verb = method.lower()
    if verb not in HTTP_METHODS:
        return None
    owner = ctx.qualname(func.value)
    if owner is not None and owner.split(".", 1)[0] in _NOT_CLIENTS:
        return None  # requests.get(...), httpx.get(...): a real network call, not the app
    url = args[0] if args else next((k.value for k in call.keywords if k.arg == "url"), None)
    text = _text(url) if url is not None else None
    if text is None:
        return None
    text = text.split("?", 1)[0].split("#", 1)[0]
    loose = text.startswith(_HOLE)  # a base URL or a settings prefix: what follows is the known part
    if loose:
        text = text.lstrip(_HOLE)
    for scheme in ("http://", "https://"):
        if text.startswith(scheme):
            host, _, rest = text[len(scheme):].partition("/")
            if host.split(":", 1)[0] not in _TEST_HOSTS:
                return None
            text = "/" + rest
    if not text.startswith("/"):
        return None
    segments = tuple(None if _HOLE in s else s for s in text.strip("/").split("/") if s)
    if loose and not any(segments):
        return None  # nothing known of the path
    shown = ("{…}" if loose else "") + text.replace(_HOLE, "{…}")
    return Request(verb.upper(), shown, segments, loose)


def _score(route: tuple[object, ...], path: tuple[str | None, ...]) -> tuple[int, int] | None:
    """How well a path matches a route: (literal segments they share, formatted values that fall on a
    parameter), or None when they do not match."""
    literal = holes = 0
    for i, seg in enumerate(route):
        if seg is REST:
            return (literal, holes) if len(path) > i else None
        if i >= len(path):
            return None
        got = path[i]
        if seg is PARAM:
            holes += got is None
        elif got is not None:
            if got != seg:
                return None
            literal += 1
        # else: a formatted value where the route has a literal: it may be that literal
    return (literal, holes) if len(path) == len(route) else None


def match(routes: list[Route], request: Request) -> list[Route]:
    """The routes a request reaches: the most specific of those that match it. A route whose prefix is
    unknown may match the end of the request's path; a request whose prefix is unknown, the end of the
    route's."""
    best: list[Route] = []
    top: tuple[int, int] = (-1, -1)
    method, path = request.method, request.segments
    for r in routes:
        if method not in r.methods and not (method == "HEAD" and "GET" in r.methods):
            continue
        route = r.segments
        scores = [_score(route, path)]
        if not r.anchored:
            scores += [_score(route, path[k:]) for k in range(1, len(path) - len(route) + 1)]
        if request.loose:
            scores += [_score(route[k:], path) for k in range(1, len(route) - len(path) + 1)]
        found = [s for s in scores if s is not None]
        score = max(found) if found else None
        if score is None:
            continue
        if score > top:
            best, top = [r], score
        elif score == top:
            best.append(r)
    return best
