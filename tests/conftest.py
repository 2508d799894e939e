pytest_plugins = ["tests.fixtures.databases", "tests.fixtures.app", "tests.fixtures.meilisearch"]
