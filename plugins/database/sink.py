"""The ``sqlalchemy`` sink: runs and results in any database SQLAlchemy reaches (SQLite by default).

The schema is created or upgraded on first use. Batches are written with one multi-row
insert each; while the database is unreachable they wait in an on-disk spool and are
retried with backoff (see ``healthcrawl.plugins.database.storage.delivery``). A relative
SQLite file or spool folder is relative to the config file's folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from marshmallow import Schema, fields

from healthcrawl import ComponentContext, Result, RunInfo, Sink, Summary, bounded_integer, bounded_number
from healthcrawl.plugins.database.storage import DEFAULT_DB


class DatabaseSinkOptions(Schema):
    url = fields.String(
        load_default=DEFAULT_DB,
        metadata={
            "description": "Any SQLAlchemy URL; a relative sqlite:/// file is relative to the config file's folder."
        },
    )
    retry_for = bounded_number(
        0, 86_400, load_default=300.0,
        metadata={"description": "Seconds to keep retrying an unreachable database before the run fails."},
    )
    spool_dir = fields.String(
        load_default="healthcrawl-spool",
        metadata={"description": "Where results wait while the database is away (relative to the config file's folder)."},
    )
    spool_max_mb = bounded_integer(
        1, 1 << 20, load_default=1024,
        metadata={"description": "Spool size at which the crawl waits for the database instead of spooling more."},
    )


class DatabaseSink(Sink):
    """Creates or upgrades its tables on first use and writes each batch in one transaction."""

    type_name = "sqlalchemy"
    Options = DatabaseSinkOptions

    def __init__(self, options: Any = None, context: ComponentContext | None = None):
        """Built from a config (with a ``context``), relative paths are resolved against the config's folder
        and a URL that does not parse or whose driver is missing is a ``ConfigError`` before anything is crawled."""
        super().__init__(options, context)
        if context is not None:
            from healthcrawl.plugins.database.storage.engines import check_url

            self.options = resolve_paths(self.options, context.output_path(""))
            check_url(self.options["url"])

    def open(self, run: RunInfo) -> None:
        # Imported here, not at the top: loading the built-in plugins must not cost every
        # command the import of SQLAlchemy and Alembic.
        from healthcrawl.plugins.database.storage.delivery import Delivery
        from healthcrawl.plugins.database.storage.engines import (
            DatabaseUnavailable, one_line, open_engine, retry_while_locked,
        )
        from healthcrawl.plugins.database.storage.lease import Heartbeat, RunOwned
        from healthcrawl.plugins.database.storage.spool import Spool, spool_path
        from healthcrawl.plugins.database.storage.store import ResultStore

        engine = open_engine(self.options["url"], never_wait_for_locks=True)
        store = ResultStore(engine)
        spool = Spool(spool_path(self.options["spool_dir"], run.run_id), self.options["spool_max_mb"] * 2**20)
        self.delivery = Delivery(store, spool, retry_for=self.options["retry_for"], replay_hint=self._replay_hint(run, spool))
        try:
            retry_while_locked(store.prepare)
            retry_while_locked(lambda: store.resume_run(run.run_id) if run.resumed else store.start_run(run))
        except RunOwned:
            engine.dispose()
            raise
        except Exception as error:
            engine.dispose()
            raise DatabaseUnavailable(one_line(error)) from None
        self.heartbeat = Heartbeat(engine, run.run_id)

    def write(self, results: list[Result]) -> None:
        self.delivery.write(self.delivery.store.batch(results))

    def close(self, run: RunInfo, summary: Summary, state: str) -> None:
        self.heartbeat.stop()
        try:
            self.delivery.finish(run.run_id, state)
        finally:
            self.delivery.store.engine.dispose()

    def probe(self) -> None:
        """Connect once (``validate --connect``). A SQLite file is not created: its folder must exist."""
        from healthcrawl.plugins.database.storage.engines import DatabaseUnavailable, check_connection, open_engine
        from healthcrawl.plugins.database.storage.engines import sqlite_file

        path = sqlite_file(self.options["url"])
        if path is not None:
            if not path.parent.is_dir():
                raise DatabaseUnavailable(f"unable to open database file {path}: no folder {path.parent}")
            return
        engine = open_engine(self.options["url"])
        try:
            check_connection(engine)
        finally:
            engine.dispose()

    @classmethod
    def find_resume(cls, options, config_name: str, run_id: str | None):
        """The run to continue (``run_id``, or the config's latest unfinished or stale one), after taking
        its lease (``lease.RunOwned`` if a live process holds it) and writing its spooled results if any
        (every process's spool of the run), with the sequence numbers of the targets it already has results
        for (read in order into a bitmap: memory does not grow with the number of results). Relative paths
        are resolved against the folder of ``config_name`` when it is a file, as ``run`` resolves them."""
        from healthcrawl.crawl.resume import Resume
        from healthcrawl.plugins.database.storage.history import done_seqs, run_to_resume
        from healthcrawl.plugins.database.storage.lease import take_lease
        from healthcrawl.plugins.database.storage.migrations import current_database
        from healthcrawl.plugins.database.storage.replay import replay_spool
        from healthcrawl.plugins.database.storage.spool import run_spools
        from healthcrawl.plugins.database.storage.store import ResultStore

        options = resolve_paths(options, config_folder(config_name))
        with current_database(options["url"]) as engine:
            run = run_to_resume(engine, config_name, run_id)
            take_lease(engine, run.id)
            for spool in run_spools(options["spool_dir"], run.id):
                replay_spool(ResultStore(engine), spool)
            return Resume(run.id, run.started_at, done_seqs(engine, run.id))

    def _replay_hint(self, run: RunInfo, spool) -> str:
        from healthcrawl.plugins.database.storage.engines import display_url

        if os.path.isfile(run.config_name):
            return f"healthcrawl replay {spool.path} --config {run.config_name}"
        return f"healthcrawl replay {spool.path} --db '{display_url(self.options['url'])}'"


def resolve_paths(options: dict, folder: Path) -> dict:
    """The sink's options with a relative SQLite file and spool folder resolved against ``folder``."""
    from healthcrawl.plugins.database.storage.engines import resolve_sqlite_url

    url, spool_dir = resolve_sqlite_url(options["url"], folder), os.fspath(folder / options["spool_dir"])
    return {**options, "url": url, "spool_dir": spool_dir}


def config_folder(config_name: str) -> Path:
    """The folder of the config a run was started from: its file's folder, else (a config built in code,
    a packaged example) the current folder."""
    return Path(config_name).resolve().parent if os.path.isfile(config_name) else Path.cwd()
