import pytest

# example apps and fixture projects carry their own test suites; they are data for our tests
collect_ignore_glob = ["e2e/apps/*", "fixtures/*"]


def pytest_addoption(parser):
    parser.addoption("--update-fixtures", action="store_true", help="rewrite the expected fixed outputs")
    parser.addoption("--runslow", action="store_true", help="run the slow property tests")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow; run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
