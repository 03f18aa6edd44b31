"""Storage test setup: each test gets a database of its own on SQLite, PostgreSQL and MariaDB
(see ``isolated_database`` in tests/conftest.py)."""

import pytest

DATABASES = ("sqlite", "postgresql", "mysql")


@pytest.fixture(params=DATABASES)
def db_url(request, isolated_database):
    """An empty database on each of SQLite, PostgreSQL and MariaDB (the servers skip when unreachable)."""
    return isolated_database(request.param)


@pytest.fixture(params=DATABASES[1:])
def server_db_url(request, isolated_database):
    """An empty database on PostgreSQL and on MariaDB (database servers one can cut off)."""
    return isolated_database(request.param)


@pytest.fixture
def pg_db_url(isolated_database):
    """An empty database on PostgreSQL."""
    return isolated_database("postgresql")
