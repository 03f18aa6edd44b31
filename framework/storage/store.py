"""Writing runs and results to a database: the schema is created on first use, writes are batched."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Engine, create_engine, insert, update
from sqlalchemy.exc import NoSuchModuleError

from ..components import RunInfo
from ..models import Result
from ..summary import Summary
from .schema import Base, CheckOutcomeRow, ResultRow, Run

DRIVER_EXTRAS = {"psycopg2": "postgres", "psycopg": "postgres", "pymysql": "mysql", "MySQLdb": "mysql"}


class DatabaseUnavailable(Exception):
    """The database cannot be reached or used; the message is one readable line."""


def open_engine(url: str) -> Engine:
    """Create an engine for ``url``, turning a missing driver into a hint naming the extra."""
    try:
        return create_engine(url)
    except ModuleNotFoundError as error:
        extra = DRIVER_EXTRAS.get(error.name or "", None)
        hint = f" (pip install 'healthcrawl[{extra}]')" if extra else ""
        raise DatabaseUnavailable(f"the database driver {error.name!r} is not installed{hint}") from None
    except NoSuchModuleError as error:
        raise DatabaseUnavailable(f"unknown database URL scheme: {error}") from None


class ResultStore:
    """Stores one run and its results; every write is one transaction of many rows."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self._next_seq = 0

    def create_schema(self) -> None:
        """Create the tables that do not exist yet."""
        Base.metadata.create_all(self.engine)

    def start_run(self, run: RunInfo) -> None:
        """Record a new run in state ``running``."""
        with self.engine.begin() as connection:
            connection.execute(
                insert(Run).values(
                    id=run.run_id,
                    config=run.config_name,
                    state="running",
                    started_at=run.started_at,
                    settings=_jsonable(dataclasses.asdict(run.settings)) if run.settings else None,
                )
            )

    def write(self, results: list[Result]) -> None:
        """Insert a batch of results and their check outcomes in one transaction."""
        result_rows, outcome_rows = [], []
        for result in results:
            seq = self._next_seq
            self._next_seq += 1
            result_rows.append(result_row(result, seq))
            outcome_rows.extend(
                {"run_id": result.run_id, "seq": seq, "position": i, "name": c.name, "ok": c.ok, "detail": c.detail}
                for i, c in enumerate(result.checks)
            )
        with self.engine.begin() as connection:
            connection.execute(insert(ResultRow), result_rows)
            if outcome_rows:
                connection.execute(insert(CheckOutcomeRow), outcome_rows)

    def finish_run(self, run: RunInfo, summary: Summary, state: str) -> None:
        """Record how the run ended and its counts."""
        with self.engine.begin() as connection:
            connection.execute(
                update(Run)
                .where(Run.id == run.run_id)
                .values(
                    state=state,
                    finished_at=datetime.now(timezone.utc),
                    targets=summary.total,
                    ok=summary.ok,
                    failed=summary.total - summary.ok,
                )
            )


def result_row(result: Result, seq: int) -> dict[str, Any]:
    """The ``results`` row for a result."""
    tls = result.tls
    return {
        "run_id": result.run_id,
        "seq": seq,
        "target": result.target,
        "ok": result.ok,
        "error_kind": result.error_kind,
        "error": result.error,
        "status_code": result.status_code,
        "final_url": result.final_url,
        "redirects": result.redirects,
        "body_bytes": result.body_bytes,
        "body_truncated": result.body_truncated,
        **dataclasses.asdict(result.timings),
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
