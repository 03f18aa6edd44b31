"""Writing runs and results to a database: the schema is migrated on first use, writes are batched."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, Table, case, func, insert, select, update
from sqlalchemy.dialects import mysql, postgresql, sqlite

from healthcrawl import CrawlSettings, Result, RunInfo
from healthcrawl.configuration.settings import CrawlSettingsSchema

from healthcrawl.plugins.database.storage.copy import copy_rows
from healthcrawl.plugins.database.storage.engines import one_line
from healthcrawl.plugins.database.storage.lease import lease_end, take_lease, this_process
from healthcrawl.plugins.database.storage.masking import mask_secrets
from healthcrawl.plugins.database.storage.migrations import upgrade_schema
from healthcrawl.plugins.database.storage.safe_rows import is_data_error, safe_form, target_problem
from healthcrawl.plugins.database.storage.schema import SOURCE_NUMBERING, CheckOutcomeRow, ResultRow, Run

_DATETIME_COLUMNS = ("started_at", "finished_at")


@dataclass
class Batch:
    """The rows of one batch of results, keyed by ``(run_id, seq)``: each target's position in the run's sources.

    The keys make a retried write safe: rows are inserted unless their key is stored already,
    row by row, so a batch written twice (a retry, a replay, two processes) is stored once.
    """

    run_id: str
    results: list[dict[str, Any]]
    outcomes: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.results)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready form (timestamps as ISO 8601 text), for the spool."""
        return {
            "run_id": self.run_id,
            "results": [{**row, **{k: row[k].isoformat() for k in _DATETIME_COLUMNS}} for row in self.results],
            "outcomes": self.outcomes,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "Batch":
        """The inverse of ``to_json``."""
        results = [
            {**row, **{k: datetime.fromisoformat(row[k]) for k in _DATETIME_COLUMNS}} for row in data["results"]
        ]
        return cls(data["run_id"], results, data["outcomes"])


class ResultStore:
    """Stores the runs and results of one database; every write is one transaction of many rows
    (multi-row inserts, or COPY on PostgreSQL through psycopg2)."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._use_copy = engine.dialect.driver == "psycopg2"

    def prepare(self) -> None:
        """Create or upgrade the schema (see ``migrations.upgrade_schema``)."""
        upgrade_schema(self.engine)

    def start_run(self, run: RunInfo) -> None:
        """Record a new run in state ``running``, its results numbered by source position, owned by this process
        (its settings are stored with secrets masked)."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(Run).values(
                    id=run.run_id,
                    config=run.config_name,
                    state="running",
                    started_at=run.started_at,
                    targets=0,
                    ok=0,
                    failed=0,
                    settings=stored_settings(run.settings) if run.settings else None,
                    numbering=SOURCE_NUMBERING,
                    owner=this_process(),
                    lease_expires_at=lease_end(),
                )
            )

    def resume_run(self, run_id: str) -> None:
        """Take the run's lease (``lease.RunOwned`` if another live process holds it) and mark it ``running`` again."""
        take_lease(self.engine, run_id)
        with self.engine.begin() as connection:
            connection.execute(update(Run).where(Run.id == run_id).values(state="running", finished_at=None))

    def batch(self, results: list[Result]) -> Batch:
        """Turn ``results`` into rows, keyed by their target's sequence number (nothing is written yet).

        A target that cannot be stored as is (see ``safe_rows.target_problem``) gets its safe
        form, without check outcomes. A result without a ``seq`` (made by hand, not by the
        engine) is a ``ValueError``.
        """
        result_rows, outcome_rows = [], []
        for result in results:
            if result.seq is None:
                raise ValueError(f"the result for {result.target} has no seq (its target's position in the sources)")
            problem = target_problem(result.target)
            if problem:
                result_rows.append(safe_form(result_row(result), problem))
                continue
            result_rows.append(result_row(result))
            for position, check in enumerate(result.checks):
                outcome_rows.append(
                    {
                        "run_id": result.run_id,
                        "seq": result.seq,
                        "position": position,
                        "name": check.name,
                        "ok": check.ok,
                        "detail": check.detail,
                    }
                )
        run_id = results[0].run_id if results else ""
        return Batch(run_id, result_rows, outcome_rows)

    def insert(self, batch: Batch) -> None:
        """Write a batch; rows whose ``(run_id, seq)`` is stored already are left as they are.

        The batch is one transaction. If the database refuses it for its data (see
        ``safe_rows.is_data_error``), it is split in halves, and so on, until the refused
        rows are found; each is stored in its safe form. Any other error (an outage) is raised,
        with nothing written by the failed transaction.
        """
        if batch.results:
            self._insert_rows(batch.results, batch.outcomes)

    def count_stored(self, batch: Batch) -> int:
        """How many of the batch's results are stored already."""
        query = select(func.count()).where(
            ResultRow.run_id == batch.run_id, ResultRow.seq.in_([row["seq"] for row in batch.results])
        )
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one()

    def _insert_rows(self, results: list[dict[str, Any]], outcomes: list[dict[str, Any]]) -> None:
        # COPY fails on a stored row: then the batch is copied again through a staging table that skips them.
        for skip_stored in (False, True) if self._use_copy else (True,):
            try:
                with self.engine.begin() as connection:
                    self._write(connection, ResultRow.__table__, results, skip_stored)
                    self._write(connection, CheckOutcomeRow.__table__, outcomes, skip_stored)
                return
            except Exception as error:
                if not is_data_error(error):
                    raise
                refused = error
        if len(results) > 1:
            half = len(results) // 2
            first = {row["seq"] for row in results[:half]}
            self._insert_rows(results[:half], [row for row in outcomes if row["seq"] in first])
            self._insert_rows(results[half:], [row for row in outcomes if row["seq"] not in first])
            return
        with self.engine.begin() as connection:
            row = results[0]
            stored = select(ResultRow.seq).where(ResultRow.run_id == row["run_id"], ResultRow.seq == row["seq"])
            if connection.execute(stored).first() is None:  # a plain insert's duplicate key is no data error
                self._write(connection, ResultRow.__table__, [safe_form(row, one_line(refused))], True)

    def _write(self, connection: Connection, table: Table, rows: list[dict[str, Any]], skip_stored: bool) -> None:
        if not rows:
            return
        if self._use_copy:
            copy_rows(connection, table, rows, skip_stored)
        else:
            connection.execute(insert_unless_stored(connection, table), rows)

    def finish_run(self, run_id: str, state: str, finished_at: datetime | None = None) -> None:
        """Record how the run ended (which gives up its lease); its counts are taken from the results stored for it."""
        counts = select(func.count(), func.coalesce(func.sum(case((ResultRow.ok, 1), else_=0)), 0)).where(
            ResultRow.run_id == run_id
        )
        with self.engine.begin() as connection:
            total, ok = connection.execute(counts).one()
            connection.execute(
                update(Run)
                .where(Run.id == run_id)
                .values(
                    state=state,
                    finished_at=finished_at or datetime.now(timezone.utc),
                    targets=total,
                    ok=ok,
                    failed=total - ok,
                    owner=None,
                    lease_expires_at=None,
                )
            )


def insert_unless_stored(connection: Connection, table: Table):
    """An ``INSERT`` into ``table`` that skips rows whose primary key is stored already (a plain one on
    databases other than SQLite, PostgreSQL and MariaDB/MySQL: a duplicate then fails as a data error)."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        return sqlite.insert(table).on_conflict_do_nothing()
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    if dialect in ("mysql", "mariadb"):
        first_key = table.primary_key.columns[0]
        return mysql.insert(table).on_duplicate_key_update({first_key.name: first_key})  # sets it to itself
    return insert(table)


def result_row(result: Result) -> dict[str, Any]:
    """The ``results`` row for a result."""
    tls, timings = result.tls, result.timings
    return {
        "run_id": result.run_id,
        "seq": result.seq,
        "target": result.target,
        "ok": result.ok,
        "error_kind": result.error_kind,
        "error": result.error,
        "status_code": result.status_code,
        "final_url": result.final_url,
        "redirects": result.redirects,
        "body_bytes": result.body_bytes,
        "body_truncated": result.body_truncated,
        "dns_ms": timings.dns_ms,
        "connect_ms": timings.connect_ms,
        "tls_ms": timings.tls_ms,
        "ttfb_ms": timings.ttfb_ms,
        "total_ms": timings.total_ms,
        "tls_verified": tls.verified if tls else None,
        "tls_days_left": tls.days_left if tls else None,
        "tls_not_after": tls.not_after if tls else None,
        "tls_subject": tls.subject if tls else None,
        "tls_issuer": tls.issuer if tls else None,
        "tls_sans": list(tls.sans) if tls else None,
        "tls_version": tls.version if tls else None,
        "started_at": result.started_at,
        "finished_at": result.finished_at,
        "attempts": result.attempts,
    }


def stored_settings(settings: CrawlSettings) -> dict[str, Any]:
    """The run's settings as stored in ``runs.settings``: their record, with URL passwords and the settings
    marked secret masked."""
    return mask_secrets(settings.to_record(), CrawlSettingsSchema())
