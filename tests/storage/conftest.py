"""Storage test setup: each test gets a database of its own on SQLite, PostgreSQL and MariaDB
(see ``isolated_database`` in tests/conftest.py)."""

import gevent
import pytest
from sqlalchemy import make_url

from healthcrawl import hookimpl
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.testing.relay import TCPRelay

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
