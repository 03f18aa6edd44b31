"""Test setup: gevent's monkey patch first (before anything imports ssl, urllib3 or requests)."""

from gevent import monkey

monkey.patch_all()

import logging  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import uuid  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

import pytest  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402

from healthcrawl.cli.main import main  # noqa: E402

pytest_plugins = ["pytester"]

REQUIRE_SERVICES = os.environ.get("HEALTHCRAWL_REQUIRE_SERVICES") == "1"
POSTGRES_URL = os.environ.get("HEALTHCRAWL_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test")
MYSQL_URL = os.environ.get("HEALTHCRAWL_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test")


def require_service(name: str, url: str) -> str:
    """Return ``url`` if its server accepts connections; otherwise skip, or fail under
    ``HEALTHCRAWL_REQUIRE_SERVICES=1`` (set by CI, where every service must run)."""
    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=2).close()
    except OSError as error:
        message = f"{name} is not reachable at {parts.hostname}:{parts.port} ({error})"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message}; HEALTHCRAWL_REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)
    return url


@pytest.fixture
def postgres_url() -> str:
    """URL of the test PostgreSQL database (skips when unreachable, fails in CI)."""
    return require_service("PostgreSQL", POSTGRES_URL)


@pytest.fixture
def mysql_url() -> str:
    """URL of the test MariaDB/MySQL database (skips when unreachable, fails in CI)."""
    return require_service("MariaDB", MYSQL_URL)


@dataclass(frozen=True)
class CommandResult:
    """What one ``healthcrawl`` command did: its exit code and what it printed."""

    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def healthcrawl_cli(capsys, monkeypatch):
    """``healthcrawl_cli(*args, cwd=None, env=None)``: run ``healthcrawl ARGS`` in this process.

    Calls ``healthcrawl.cli.main.main(args)`` and returns a ``CommandResult``. ``cwd`` and ``env``
    (variables to set) apply for the call only; the root logger's handlers and level, which ``main``
    configures, are put back afterwards. A real process is only needed for what a process owns:
    signals, a closed stdout pipe, the console script, resource limits, a fresh ``sys.modules``.
    """

    def run(*args, cwd=None, env=None) -> CommandResult:
        root = logging.getLogger()
        handlers, level = root.handlers[:], root.level
        capsys.readouterr()  # what the test printed before is not the command's
        with monkeypatch.context() as scoped:
            if cwd is not None:
                scoped.chdir(cwd)
            for name, value in (env or {}).items():
                scoped.setenv(name, value)
            try:
                exit_code = main([str(arg) for arg in args])
            except SystemExit as usage_error:  # argparse: a usage error or --help
                exit_code = usage_error.code or 0
            finally:
                root.handlers[:] = handlers
                root.setLevel(level)
        out, err = capsys.readouterr()
        return CommandResult(exit_code, out, err)

    return run


@pytest.fixture
def isolated_database(request, tmp_path):
    """``isolated_database(kind)``: the URL of an empty database of ``kind`` (sqlite, postgresql, mysql) for this test.

    On PostgreSQL that is a fresh schema (``search_path``), on MariaDB a fresh database; both are
    dropped afterwards, so tests never see each other's rows, nor the tables other suites (or
    other checkouts of healthcrawl, at other schema revisions) left in the shared ``test`` database.
    """
    drops = []

    def make(kind: str) -> str:
        url, drop = _isolated_url(kind, request, tmp_path)
        drops.append(drop)
        return url

    yield make
    for drop in drops:
        drop()


def _isolated_url(kind: str, request, tmp_path):
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
