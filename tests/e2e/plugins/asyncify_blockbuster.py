"""pytest plugin for the migrated example apps: every test runs with blockbuster active, so a blocking
call made on the event loop (a sync driver, time.sleep, file I/O in an async endpoint) fails the test."""

import pytest
from blockbuster import blockbuster_ctx


@pytest.fixture(autouse=True)
def _no_blocking_calls_on_the_event_loop():
    with blockbuster_ctx() as bb:
        yield bb
