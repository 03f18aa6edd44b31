"""What the HTML report shows about one stored run, aggregated in SQL (no query returns a row per target,
except the capped table of failing targets).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Engine, case, func, select

from healthcrawl.plugins.database.storage.history import (
    HistoryError, RunDiff, RunRecord, RunReport, diff_runs, find_run, list_runs, run_report,
)
from healthcrawl.plugins.database.storage.schema import CheckOutcomeRow, ResultRow, Run

PHASES = ("dns", "connect", "tls", "ttfb", "total")
"""The timing columns (``PHASE_ms``) drawn as latency histograms."""
LATENCY_EDGES_MS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1_000, 2_000, 5_000, 10_000, 30_000)
"""Upper bounds of the latency histogram's buckets (a last bucket holds everything slower)."""
TOP = 20
"""How many of the slowest targets and soonest-expiring certificates the report lists."""
FAILING_ROWS = 1_000
"""The most failing targets the report's table holds."""
CHANGES_LISTED = 100
"""The most targets listed per kind of change since the previous run."""
OUTCOMES = ("ok", "failed", "error")
"""Every target ends as one of these: passed, failed a check (no error), or ended with an error."""


@dataclass(frozen=True)
class FailingTarget:
    """One row of the report's table of failing targets."""

    seq: int
    target: str
    error_kind: str | None
    status_code: int | None
    failed_checks: tuple[str, ...]
    detail: str
    total_ms: float | None


@dataclass(frozen=True)
class LatencyBucket:
    """How many targets spent up to ``upper_ms`` (``None``: more than the last edge) in ``phase``."""

    phase: str
    index: int
    upper_ms: float | None
    count: int


@dataclass
class ReportData:
    """Everything the report draws."""

    run: RunRecord
    outcomes: dict[str, int]
    summary: RunReport
    latency: list[LatencyBucket]
    failing: list[FailingTarget]
    failing_total: int
    previous: RunRecord | None = None
    previous_outcomes: dict[str, int] = field(default_factory=dict)
    diff: RunDiff | None = None


def gather(engine: Engine, run_id: str | None) -> ReportData:
    """The report's data for ``run_id`` (an id or a unique prefix), or for the newest run when ``None``."""
    run = _latest(engine) if run_id is None else find_run(engine, run_id)
    outcomes = outcome_counts(engine, run.id)
    data = ReportData(
        run=run,
        outcomes=outcomes,
        summary=run_report(engine, run.id, top=TOP),
        latency=latency_buckets(engine, run.id),
        failing=failing_targets(engine, run.id),
        failing_total=outcomes["failed"] + outcomes["error"],
    )
    data.previous = previous_run(engine, run)
    if data.previous is not None:
        data.previous_outcomes = outcome_counts(engine, data.previous.id)
        data.diff = diff_runs(engine, data.previous.id, run.id)
    return data


def outcome_counts(engine: Engine, run_id: str) -> dict[str, int]:
    """Targets of the run per outcome (``OUTCOMES``)."""
    outcome = case((ResultRow.ok.is_(True), "ok"), (ResultRow.error_kind.is_(None), "failed"), else_="error")
    query = select(outcome, func.count()).where(ResultRow.run_id == run_id).group_by(outcome)
    with engine.connect() as connection:
        counts = dict(connection.execute(query).all())
    return {name: counts.get(name, 0) for name in OUTCOMES}


def latency_buckets(engine: Engine, run_id: str) -> list[LatencyBucket]:
    """Per phase, how many targets fall in each bucket of ``LATENCY_EDGES_MS`` (empty buckets left out)."""
    buckets = []
    with engine.connect() as connection:
        for phase in PHASES:
            column = getattr(ResultRow, f"{phase}_ms")
            index = case(*((column <= edge, i) for i, edge in enumerate(LATENCY_EDGES_MS)), else_=len(LATENCY_EDGES_MS))
            query = (select(index, func.count()).where(ResultRow.run_id == run_id, column.is_not(None))
                     .group_by(index).order_by(index))
            for i, count in connection.execute(query):
                upper = LATENCY_EDGES_MS[i] if i < len(LATENCY_EDGES_MS) else None
                buckets.append(LatencyBucket(phase, i, upper, count))
    return buckets


def failing_targets(engine: Engine, run_id: str, limit: int = FAILING_ROWS) -> list[FailingTarget]:
    """The first ``limit`` failing targets of the run, in source order, with their failed checks."""
    rows_query = (
        select(ResultRow.seq, ResultRow.target, ResultRow.error_kind, ResultRow.status_code, ResultRow.error,
               ResultRow.total_ms)
        .where(ResultRow.run_id == run_id, ResultRow.ok.is_(False)).order_by(ResultRow.seq).limit(limit)
    )
    with engine.connect() as connection:
        rows = connection.execute(rows_query).all()
        if not rows:
            return []
        checks_query = (
            select(CheckOutcomeRow.seq, CheckOutcomeRow.name, CheckOutcomeRow.detail)
            .where(CheckOutcomeRow.run_id == run_id, CheckOutcomeRow.ok.is_(False),
                   CheckOutcomeRow.seq <= rows[-1].seq)  # every such seq is a failing target in ``rows``
            .order_by(CheckOutcomeRow.seq, CheckOutcomeRow.position)
        )
        failed: dict[int, list[tuple[str, str]]] = {}
        for seq, name, detail in connection.execute(checks_query):
            failed.setdefault(seq, []).append((name, detail))
    return [
        FailingTarget(
            seq, target, error_kind, status_code,
            tuple(name for name, _ in failed.get(seq, ())),
            error or "; ".join(f"{name}: {detail}" for name, detail in failed.get(seq, ())),
            total_ms,
        )
        for seq, target, error_kind, status_code, error, total_ms in rows
    ]


def previous_run(engine: Engine, run: RunRecord) -> RunRecord | None:
    """The newest run of the same config that started before ``run``."""
    query = (select(Run.id).where(Run.config == run.config, Run.started_at < run.started_at, Run.id != run.id)
             .order_by(Run.started_at.desc()).limit(1))
    with engine.connect() as connection:
        previous = connection.execute(query).scalar()
    return None if previous is None else find_run(engine, previous)


def _latest(engine: Engine) -> RunRecord:
    newest = list_runs(engine, limit=1)
    if not newest:
        raise HistoryError("the database holds no runs yet")
    return newest[0]
