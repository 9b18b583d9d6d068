"""
## What it does
Checks for blocking socket, TLS and DNS calls in the body of an `async def`: methods of
`socket.socket` and `ssl.SSLSocket` objects (`connect`, `recv`, `sendall`, ...),
`socket.create_connection`, and resolver functions (`socket.getaddrinfo`, `gethostbyname`, ...).

An awaited call (`await x.get(u)`, or `async with`/`async for` on it) is not reported: it is not
the sync API, whatever an annotation says; nor is a call in a branch of an `if` (or of `a if c else b`)
whose other branch offloads the same callee (`else: await asyncio.to_thread(f.read)`).

Calls on a socket set non-blocking are not reported: the last `setblocking()`/`settimeout()` call
on the same name or `self.x` before it in the function is `setblocking(False)` or `settimeout(0)`
(for `self.x`, also: methods of the class set it so and none sets it back), or the call is in the
body of a `try` that catches `BlockingIOError` (or `ssl.SSLWantReadError`/`SSLWantWriteError`),
which only a non-blocking socket raises.

## Why is this bad?
A blocking socket call waits for the network on the event loop's thread; name resolution can take
seconds when a DNS server is slow.

## Example
```python
import socket


async def resolve(host):
    return socket.gethostbyname(host)
```

## Use instead
```python
import asyncio


async def resolve(host):
    infos = await asyncio.get_running_loop().getaddrinfo(host, None)
    return infos[0][4][0]
```

## Fix safety
The fix, applied only with `--unsafe-fixes`, is `await asyncio.to_thread(f, ...)`. It is unsafe
because the call now runs concurrently with other tasks and a socket shared between tasks may see
interleaved use. The idiomatic replacements (asyncio streams, `loop.sock_*`, `loop.getaddrinfo`)
are not applied automatically.
"""

import ast

from asyncify_lint.diagnostics import Applicability, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY116",
        name="blocking-socket-call-in-async",
        message="blocking call {what} in `async def {func}`: {hint}",
        fix_title="{fix_title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=606,
        prefilter=blocking.has_async,
    )
)


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    yield from blocking.check(RULE, ctx, call)
