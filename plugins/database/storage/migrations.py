"""Creating and upgrading the schema with the Alembic migrations shipped in ``migrations/``.

``upgrade_schema`` runs on first use of a database: an empty database gets every
table, an older one is upgraded to the newest revision, and a current one costs a
single query. Databases created before migrations existed (tables but no
``alembic_version``) are taken to be at revision ``0001``.
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
from sqlalchemy import Connection, Engine, inspect

from healthcrawl.plugins.database.storage.engines import check_connection, open_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
FIRST_REVISION = "0001"


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
    """Bring the database to ``revision`` (the newest by default), creating tables as needed."""
    with engine.begin() as connection:
        current = MigrationContext.configure(connection).get_current_revision()
        if revision == "head" and current == head_revision():
            return
        config = alembic_config(connection)
        if current is None and inspect(connection).has_table("runs"):
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, revision)


@contextmanager
def current_database(url: str) -> Iterator[Engine]:
    """An engine for ``url`` whose database answers and is at the newest revision (disposed on exit).

    An unreachable database is a ``DatabaseUnavailable`` with one line.
    """
    engine = open_engine(url)
    try:
        check_connection(engine)
        upgrade_schema(engine)
        yield engine
    finally:
        engine.dispose()
