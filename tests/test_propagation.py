"""AFY401 edge cases: coroutines handed to something that runs them are not "missing an await"."""

from __future__ import annotations

import textwrap

from harness import Run


def _codes(tmp_path, text: str) -> list[tuple[str, int]]:
    diags, _, _ = Run(str(tmp_path), textwrap.dedent(text), ["AFY401"], unsafe=True, name="mod.py").check()
    return [(d.code, d.line) for d in diags]


def test_coroutine_passed_to_a_runner_is_not_missing_an_await(tmp_path):
    text = """
        import asyncio
        import concurrent.futures


        async def work():
            return 1


        def run_in_thread():
            with concurrent.futures.ThreadPoolExecutor(1) as ex:
                return ex.submit(asyncio.run, work()).result()


        def main():
            return asyncio.run(work())


        async def spawn():
            task = asyncio.create_task(work())
            return await asyncio.gather(task, work())


        async def forgotten():
            work()
    """
    assert _codes(tmp_path, text) == [("AFY401", 25)]  # only the discarded call in `forgotten`
