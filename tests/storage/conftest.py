"""Storage test setup: each test gets a database of its own on SQLite, PostgreSQL and MariaDB.

On PostgreSQL that is a fresh schema (``search_path``), on MariaDB a fresh database; both are
dropped afterwards, so tests never see each other's rows (nor those of other suites sharing
the server).
"""

import uuid

import pytest
from sqlalchemy import create_engine, make_url, text

DATABASES = ("sqlite", "postgresql", "mysql")


def isolated_url(kind: str, request, tmp_path):
    """A URL to an empty database of ``kind``, and a function that drops it."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/healthcrawl.db", lambda: None
    server_url = request.getfixturevalue("postgres_url" if kind == "postgresql" else "mysql_url")
    name = f"hc_{uuid.uuid4().hex[:16]}"
    admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}" if kind == "postgresql" else f"CREATE DATABASE {name}"))
    url = make_url(server_url)
    if kind == "postgresql":
        url = url.update_query_dict({"options": f"-csearch_path={name}"})
    else:
        url = url.set(database=name)

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {name} CASCADE" if kind == "postgresql" else f"DROP DATABASE {name}"))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


@pytest.fixture(params=DATABASES)
def db_url(request, tmp_path):
    """An empty database on each of SQLite, PostgreSQL and MariaDB (the servers skip when unreachable)."""
    url, drop = isolated_url(request.param, request, tmp_path)
    yield url
    drop()


@pytest.fixture(params=DATABASES[1:])
def server_db_url(request, tmp_path):
    """An empty database on PostgreSQL and on MariaDB (database servers one can cut off)."""
    url, drop = isolated_url(request.param, request, tmp_path)
    yield url
    drop()


@pytest.fixture
def pg_db_url(request, tmp_path):
    """An empty database on PostgreSQL."""
    url, drop = isolated_url("postgresql", request, tmp_path)
    yield url
    drop()
