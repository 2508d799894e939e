import pytest

from tests.prerequisites import check_marks

pytest_plugins = ["tests.fixtures.databases", "tests.fixtures.app", "tests.fixtures.meilisearch", "tests.fixtures.s3"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "prerequisite(condition, reason): see tests/prerequisites.needs")


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    check_marks(item)
