"""Creating and upgrading the schema with the Alembic migrations shipped in ``migrations/``.

``upgrade_schema`` runs on first use of a database: an empty database gets every
table, an older one is upgraded to the newest revision, and a current one costs a
single query. Databases created before migrations existed (tables but no
``alembic_version``) are taken to be at revision ``0001``.

Processes that find the schema behind take a lock first (an advisory lock on PostgreSQL,
``GET_LOCK`` on MariaDB/MySQL, an immediate transaction on SQLite) and look again once they
hold it: of several runs started at once on an empty database, one migrates and the others
wait for it, then find the schema current and go on.
"""

from __future__ import annotations

from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from healthcrawl.plugins.database.storage.engines import (
    DatabaseUnavailable, check_connection, one_line, open_engine, retry_while_locked,
)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"
LOCK_WAIT = 300
"""Seconds a process waits for another one's migration before giving up."""
_LOCK_NAME = "healthcrawl_migrations"
_PG_LOCK_KEY = 0x6863_6D69_6772  # an arbitrary 64-bit number naming the lock ("hcmigr")


def alembic_config(connection: Connection) -> Config:
    """An Alembic config that runs the packaged migrations on ``connection``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = connection
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision shipped with this version of healthcrawl."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return ScriptDirectory.from_config(config).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (``None`` for an empty database)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Bring the database to ``revision`` (the newest by default), creating tables as needed.

    A current database costs one query; otherwise the migration lock is taken first."""
    if revision == "head" and current_revision(engine) == head_revision():
        return
    with engine.connect() as connection, migration_lock(connection):
        current = MigrationContext.configure(connection).get_current_revision()
        if revision != "head" or current != head_revision():
            config = alembic_config(connection)
            if current is None and inspect(connection).has_table("runs"):
                command.stamp(config, FIRST_REVISION)
            command.upgrade(config, revision)
        connection.commit()


@contextmanager
def migration_lock(connection: Connection) -> Iterator[None]:
    """Hold the database's migration lock (one process at a time) while the block runs.

    On SQLite the block runs in the ``BEGIN IMMEDIATE`` transaction that is the lock; on the
    servers the lock belongs to the session and the block starts a transaction of its own,
    which sees what an earlier holder committed."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        _begin_immediate(connection)
        yield
        return
    if dialect == "postgresql":
        connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": _PG_LOCK_KEY})
        release = text("SELECT pg_advisory_unlock(:key)"), {"key": _PG_LOCK_KEY}
    elif dialect in ("mysql", "mariadb"):
        got = connection.execute(text("SELECT GET_LOCK(:name, :wait)"), {"name": _LOCK_NAME, "wait": LOCK_WAIT}).scalar()
        if got != 1:
            raise DatabaseUnavailable(f"another process held the migration lock for {LOCK_WAIT} s")
        release = text("SELECT RELEASE_LOCK(:name)"), {"name": _LOCK_NAME}
    else:
        yield
        return
    connection.commit()
    try:
        yield
    finally:
        connection.rollback()
        connection.execute(*release)
        connection.commit()


def _begin_immediate(connection: Connection) -> None:
    """Start the SQLite write transaction now, waiting while another process writes."""

    def begin() -> None:
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except OperationalError:
            connection.rollback()
            raise

    retry_while_locked(begin, LOCK_WAIT)


@contextmanager
def current_database(url: str) -> Iterator[Engine]:
    """An engine for ``url`` whose database answers and is at the newest revision (disposed on exit).

    An unreachable database, or a database error in the block, is a ``DatabaseUnavailable`` with
    one line (no statement, no values).
    """
    engine = open_engine(url)
    try:
        check_connection(engine)
        try:
            upgrade_schema(engine)
            yield engine
        except SQLAlchemyError as error:
            raise DatabaseUnavailable(f"the database failed: {one_line(error)}") from None
    finally:
        engine.dispose()
