"""
## What it does
Checks for well-known CPU-bound calls in the body of an `async def`: password hashing and
password-based key derivation, slow by design. passlib (`CryptContext` objects' `hash()`, `verify()`,
`verify_and_update()`; the hasher classes of `passlib.hash`, such as `bcrypt.hash()` or
`pbkdf2_sha256.using(rounds=...).verify()`), `bcrypt.hashpw()`/`checkpw()`, argon2-cffi
(`PasswordHasher` objects, `argon2.low_level`), pwdlib (`PasswordHash` objects, such as
`PasswordHash.recommended()`), `werkzeug.security`, `hashlib.pbkdf2_hmac()`/`scrypt()` and the
`cryptography` PBKDF2/Scrypt key derivation functions. Hasher objects are tracked as the clients of
the blocking-call rules are: through assignments, annotations, parameters, `self.<attr>` set in
`__init__`, and a module-level `pwd_context = CryptContext(...)` imported from another module of
the project.

Cheap hashing (`hashlib.sha256()`, `hmac.new()`, `bcrypt.gensalt()`) is not reported, nor is an
awaited call, nor a call in a branch of an `if` whose other branch offloads the same callee.

A CPU-bound call in a sync helper that async code calls, in any module, is reported by AFY100 at the
call that starts the chain (`login → security.verify_password → passlib.context.CryptContext.verify`),
and an endpoint whose body makes one is not made `async def` by AFY301's safe fix.

## Why is this bad?
One bcrypt or argon2 hash takes 50 to 500 ms of CPU, on purpose. A sync FastAPI endpoint ran it in
the threadpool; in an `async def` it runs on the event loop, and every other request served by the
process waits for each login. The hashing libraries release the GIL while they hash, so a worker
thread lets the loop go on meanwhile.

## Example
```python
from passlib.context import CryptContext

pwd_context = CryptContext(schemes=["bcrypt"])


async def authenticate(password: str, hashed: str) -> bool:
    return pwd_context.verify(password, hashed)
```

## Use instead
```python
import asyncio

from passlib.context import CryptContext

pwd_context = CryptContext(schemes=["bcrypt"])


async def authenticate(password: str, hashed: str) -> bool:
    return await asyncio.to_thread(pwd_context.verify, password, hashed)
```

## Fix safety
The fix, applied only with `--unsafe-fixes`, runs the call in a worker thread:
`pwd_context.verify(p, h)` becomes `await asyncio.to_thread(pwd_context.verify, p, h)` (or
`run_in_threadpool` when the module already imports it from `starlette.concurrency` /
`fastapi.concurrency`). It is unsafe because the call now runs concurrently with other tasks and is
bounded by the default executor's size: hashes no longer queue behind one another on the loop, so
many logins at once use as many cores as the executor has threads. The arguments are evaluated on the
event loop, as before. There is no fix where `await` is not valid (a lambda, a generator expression,
a nested `def`) or when the result is iterated or used as a context manager.
"""

import ast

from asyncify_lint.diagnostics import Applicability, FixAvailability
from asyncify_lint.engine.context import FileContext
from asyncify_lint.helpers import blocking
from asyncify_lint.registry import Rule, register

RULE = register(
    Rule(
        code="AFY120",
        name="cpu-bound-call-in-async",
        message="CPU-bound call {what} in `async def {func}`: {hint}",
        fix_title="{fix_title}",
        fix_availability=FixAvailability.SOMETIMES,
        fix_applicability=Applicability.UNSAFE,
        doc=__doc__,
        module=__name__,
        fix_order=610,
        prefilter=blocking.has_async,
    )
)


@RULE.on(ast.Call)
def check(ctx: FileContext, call: ast.Call):
    yield from blocking.check(RULE, ctx, call)
