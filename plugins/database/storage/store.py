"""Writing runs and results to a database: the schema is migrated on first use, writes are batched."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, case, func, insert, select, update

from healthcrawl import Result, RunInfo

from healthcrawl.plugins.database.storage.copy import copy_rows
from healthcrawl.plugins.database.storage.migrations import upgrade_schema
from healthcrawl.plugins.database.storage.schema import SOURCE_NUMBERING, CheckOutcomeRow, ResultRow, Run

_DATETIME_COLUMNS = ("started_at", "finished_at")


@dataclass
class Batch:
    """The rows of one batch of results, keyed by ``(run_id, seq)``: each target's position in the run's sources.

    The keys make a retried write safe: a batch whose first row is already stored was
    committed before (its whole transaction succeeded), so it is not written twice.
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
        """Record a new run in state ``running``, its results numbered by source position."""
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
                    settings=_jsonable(dataclasses.asdict(run.settings)) if run.settings else None,
                    numbering=SOURCE_NUMBERING,
                )
            )

    def resume_run(self, run_id: str) -> None:
        """Mark an earlier run ``running`` again."""
        with self.engine.begin() as connection:
            connection.execute(update(Run).where(Run.id == run_id).values(state="running", finished_at=None))

    def batch(self, results: list[Result]) -> Batch:
        """Turn ``results`` into rows, keyed by their target's sequence number (nothing is written yet).

        A result without a ``seq`` (made by hand, not by the engine) is a ``ValueError``.
        """
        result_rows, outcome_rows = [], []
        for result in results:
            if result.seq is None:
                raise ValueError(f"the result for {result.target} has no seq (its target's position in the sources)")
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

    def insert(self, batch: Batch, *, unless_present: bool = False) -> bool:
        """Write a batch in one transaction; with ``unless_present``, skip one already stored.

        Returns whether rows were written.
        """
        if not batch.results:
            return False
        with self.engine.begin() as connection:
            if unless_present:
                first = batch.results[0]["seq"]
                found = connection.execute(
                    select(ResultRow.seq).where(ResultRow.run_id == batch.run_id, ResultRow.seq == first)
                ).first()
                if found is not None:
                    return False
            for model, rows in ((ResultRow, batch.results), (CheckOutcomeRow, batch.outcomes)):
                if not rows:
                    continue
                if self._use_copy:
                    copy_rows(connection, model.__table__, rows)
                else:
                    connection.execute(insert(model), rows)
        return True

    def finish_run(self, run_id: str, state: str, finished_at: datetime | None = None) -> None:
        """Record how the run ended; its counts are taken from the results stored for it."""
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
                )
            )


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
    }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
