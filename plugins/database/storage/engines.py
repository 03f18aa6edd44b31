"""Opening a SQLAlchemy engine for a URL: driver hints, connect timeouts, and gevent-friendly drivers."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Callable, TypeVar

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

from healthcrawl import errors
from healthcrawl.errors import CommandFailed, ConfigError
from healthcrawl.plugins.database.storage import green_psycopg2

CONNECT_TIMEOUT = 10
"""Seconds to wait for a database server to accept a connection."""

UNACKNOWLEDGED_MS = 30_000
"""Milliseconds PostgreSQL connections let sent data go unacknowledged before giving up."""

LOCK_RETRY_FOR = 300.0
"""Seconds ``retry_while_locked`` waits for a SQLite database another process has locked."""

T = TypeVar("T")

DRIVER_HINTS = {
    "psycopg2": "pip install 'healthcrawl[postgres]'",
    # SQLAlchemy 2.1 reads a bare postgresql:// as psycopg 3; the extra installs psycopg2.
    "psycopg": "pip install psycopg, or pip install 'healthcrawl[postgres]' and write postgresql+psycopg2://",
    "pymysql": "pip install 'healthcrawl[mysql]'",
    "MySQLdb": "pip install 'healthcrawl[mysql]' and write mysql+pymysql://",
}
"""How to get each driver module a URL may need."""



class DatabaseUnavailable(CommandFailed):
    """The database cannot be reached or used; the message is one readable line."""


def open_engine(url: str | URL, *, never_wait_for_locks: bool = False) -> Engine:
    """Create an engine for ``url``; a missing driver or a bad URL becomes a ``DatabaseUnavailable`` hint.

    With ``never_wait_for_locks`` (the crawl's sink), a SQLite database locked by another
    process fails a statement at once ("database is locked") instead of blocking the process
    for up to 5 s: the caller waits by yielding (``retry_while_locked``, or the delivery's retries),
    so the crawl's greenlets go on meanwhile.

    PostgreSQL and MySQL connections give up after ``CONNECT_TIMEOUT`` seconds, pooled
    connections are checked before use (so a database that came back is found again), and
    psycopg2 waits through gevent when the socket module is patched (``green_psycopg2``). SQLite files use WAL
    with ``synchronous=NORMAL``: a commit does not wait for the disk (a power cut may lose
    the last batches, never the file), and ``healthcrawl runs`` can read during a crawl.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise DatabaseUnavailable(f"not a database URL: {error}") from None
    connect_args = {}
    if parsed.get_backend_name() in ("postgresql", "mysql", "mariadb"):
        connect_args["connect_timeout"] = CONNECT_TIMEOUT
    elif parsed.get_backend_name() == "sqlite" and never_wait_for_locks:
        connect_args["timeout"] = 0
    try:
        if parsed.get_driver_name() == "psycopg2":  # loads the dialect: an unknown scheme fails here
            connect_args["tcp_user_timeout"] = UNACKNOWLEDGED_MS  # bounds a write to a server that vanished
            connect_args.update(green_psycopg2.use_gevent())
        engine = create_engine(parsed, pool_pre_ping=True, connect_args=connect_args)
    except ModuleNotFoundError as error:
        hint = DRIVER_HINTS.get((error.name or "").split(".")[0])
        hint = f" ({hint})" if hint else ""
        raise DatabaseUnavailable(f"the database driver {error.name!r} is not installed{hint}") from None
    except NoSuchModuleError as error:
        raise DatabaseUnavailable(f"unknown database URL scheme: {error}") from None
    if engine.dialect.name == "sqlite" and parsed.database not in (None, "", ":memory:"):
        event.listen(engine, "connect", _sqlite_wal)
    return engine


def check_connection(engine: Engine) -> None:
    """Connect once; an unreachable database is a ``DatabaseUnavailable`` with one line."""
    try:
        with engine.connect():
            pass
    except Exception as error:
        raise DatabaseUnavailable(f"cannot reach the database: {one_line(error)}") from None


def sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite://`` URL names (``None`` for other databases, in-memory ones and URLs that do not parse)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        return None
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):  # a SQLite URI (?uri=true): left to SQLite
        return None
    return Path(parsed.database)


def resolve_sqlite_url(url: str, folder: Path) -> str:
    """``url`` with a relative SQLite file made absolute against ``folder`` (the config's folder); other URLs
    as they are."""
    path = sqlite_file(url)
    if path is None or path.is_absolute():
        return url
    return make_url(url).set(database=os.fspath(folder / path)).render_as_string(hide_password=False)


def check_url(url: str) -> None:
    """Raise ``ConfigError`` when ``url`` does not parse or needs a driver that is not installed (connects nowhere)."""
    try:
        open_engine(url).dispose()
    except DatabaseUnavailable as error:
        raise ConfigError([str(error)]) from None


def _sqlite_wal(dbapi_connection, connection_record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def is_locked(error: BaseException) -> bool:
    """Whether ``error`` is SQLite's "database is locked" (another process holds the lock)."""
    return isinstance(error, OperationalError) and "database is locked" in str(error.orig)


def retry_while_locked(call: Callable[[], T], seconds: float = LOCK_RETRY_FOR) -> T:
    """``call()``, called again while it fails because a SQLite database is locked, for up to ``seconds``.

    Waits with ``time.sleep``, which yields to other greenlets in a monkey-patched process."""
    deadline = time.monotonic() + seconds
    pause = 0.01
    while True:
        try:
            return call()
        except OperationalError as error:
            if not is_locked(error) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


def one_line(error: BaseException) -> str:
    """A database error as one readable line: the first line of the driver's message when there is one.

    SQLAlchemy's own text (the statement and its parameters) is left out, and so are the driver's
    further lines (PostgreSQL's ``DETAIL`` and ``CONTEXT``): they may quote the values of rows."""
    driver_error = getattr(error, "orig", None)
    if driver_error is None:
        return errors.one_line(error)
    first = next((line for line in str(driver_error).splitlines() if line.strip()), "")
    return errors.one_line(first) if first else type(driver_error).__name__


def display_url(url: str) -> str:
    """``url`` as shown to users: the password, if any, masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url
