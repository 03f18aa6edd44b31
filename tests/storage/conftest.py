"""Storage test setup: each test gets a database of its own on SQLite, PostgreSQL and MariaDB.

On PostgreSQL that is a fresh schema (``search_path``), on MariaDB a fresh database; both are
dropped afterwards, so tests never see each other's rows (nor those of other suites sharing
the server).
"""

import uuid

import gevent
import pytest
from sqlalchemy import create_engine, make_url, text

from healthcrawl import hookimpl
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.testing.relay import TCPRelay

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


@pytest.fixture
def relay(server_db_url):
    """A cuttable relay in front of the test database; ``relay.db_url`` goes through it."""
    url = make_url(server_db_url)
    with TCPRelay((url.host, url.port)) as relay:
        relay.db_url = url.set(port=relay.port).render_as_string(hide_password=False)
        yield relay


@pytest.fixture
def on_result():
    """Register ``callback(count)`` to run in the writer for every result (the count so far)."""
    plugins = []

    def register(callback):
        class Observer:
            seen = 0

            @hookimpl
            def healthcrawl_result(self, result):
                Observer.seen += 1
                callback(Observer.seen)

        plugins.append(get_plugin_manager().register(Observer()))

    yield register
    for name in plugins:
        get_plugin_manager().unregister(name=name)


@pytest.fixture
def wait_until():
    """``wait_until(condition, seconds=240)``: poll ``condition`` (yielding to other greenlets) until it holds
    (``True``) or ``seconds`` have passed (``False``)."""

    def wait(condition, seconds=240.0):
        for _ in range(int(seconds / 0.02)):
            if condition():
                return True
            gevent.sleep(0.02)
        return condition()

    return wait
