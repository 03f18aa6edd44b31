"""Reading stored runs back: listing them, finding the run to resume, summarising and comparing runs."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterator

from sqlalchemy import Engine, and_, case, func, select
from sqlalchemy.orm import aliased

from healthcrawl.crawl.sequence import SeqSet
from healthcrawl.errors import CommandFailed
from healthcrawl.plugins.database.storage.lease import lease_expired
from healthcrawl.plugins.database.storage.schema import SOURCE_NUMBERING, CheckOutcomeRow, ResultRow, Run

RESUMABLE_STATES = ("interrupted", "failed")
"""States of a run that ``--resume`` may continue (and ``stale``: ``running``, its owner's lease expired)."""
STREAM_ROWS = 10_000
"""Rows fetched at a time when a query walks all results of a run."""
RUN_ALIASES = ("latest", "previous")
"""Names that stand for a run id wherever one is given: the newest run in the database and the one before it."""


class HistoryError(CommandFailed):
    """A stored run cannot be used as asked (unknown id, nothing to resume); the message is one line."""


class RunNotFound(HistoryError):
    """No run matches the id (or id prefix) given; the message says so in one line."""


@dataclass(frozen=True)
class RunRecord:
    """One row of ``runs``."""

    id: str
    config: str
    state: str
    started_at: datetime
    finished_at: datetime | None
    targets: int
    ok: int
    failed: int

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish (``None`` while unfinished)."""
        if self.finished_at is None:
            return None
        return (as_utc(self.finished_at) - as_utc(self.started_at)).total_seconds()


def _run_columns() -> tuple:
    """The ``RunRecord`` columns; ``state`` reads ``stale`` for a ``running`` run whose owner's lease expired."""
    state = case((and_(Run.state == "running", lease_expired()), "stale"), else_=Run.state).label("state")
    return Run.id, Run.config, state, Run.started_at, Run.finished_at, Run.targets, Run.ok, Run.failed


def list_runs(engine: Engine, limit: int | None = None) -> list[RunRecord]:
    """Runs, newest first."""
    query = select(*_run_columns()).order_by(Run.started_at.desc()).limit(limit)
    with engine.connect() as connection:
        return [RunRecord(*row) for row in connection.execute(query)]


def find_run(engine: Engine, run_id: str) -> RunRecord:
    """The run whose id is ``run_id`` or starts with it (a unique prefix is enough); ``latest`` is the
    newest run in the database, ``previous`` the one started before it."""
    if run_id in RUN_ALIASES:
        position = RUN_ALIASES.index(run_id)
        runs = list_runs(engine, position + 1)
        if len(runs) <= position:
            raise RunNotFound(f"no {run_id} run: the database holds {len(runs)} run{'' if len(runs) == 1 else 's'}")
        return runs[position]
    with engine.connect() as connection:
        rows = connection.execute(select(*_run_columns()).where(Run.id.startswith(run_id, autoescape=True)).limit(2)).all()
    exact = [row for row in rows if row.id == run_id]
    if exact or len(rows) == 1:
        return RunRecord(*(exact or rows)[0])
    raise RunNotFound(f"no run {run_id!r}" if not rows else f"run id {run_id!r} is ambiguous: give more characters")


def latest_resumable(engine: Engine, config: str) -> RunRecord | None:
    """The newest interrupted, failed or stale run of ``config``."""
    query = (
        select(*_run_columns())
        .where(Run.config == config, Run.state.in_(RESUMABLE_STATES) | (Run.state == "running") & lease_expired())
        .order_by(Run.started_at.desc())
        .limit(1)
    )
    with engine.connect() as connection:
        row = connection.execute(query).first()
    return RunRecord(*row) if row else None


def run_to_resume(engine: Engine, config: str, run_id: str | None) -> RunRecord:
    """The run ``--resume`` continues: ``run_id`` (or a unique prefix), else the newest unfinished run of ``config``.

    A ``HistoryError`` says why there is none: no such run, it completed, or an older healthcrawl
    stored it with results numbered in write order, which cannot be matched to source positions.
    """
    run = find_run(engine, run_id) if run_id else latest_resumable(engine, config)
    if run is None:
        raise HistoryError(f"no interrupted, failed or stale run of {config} to resume")
    if run.state == "completed":
        raise HistoryError(f"run {run.id} completed: there is nothing to resume")
    with engine.connect() as connection:
        numbering = connection.execute(select(Run.numbering).where(Run.id == run.id)).scalar_one()
    if numbering != SOURCE_NUMBERING:
        raise HistoryError(
            f"run {run.id} cannot be resumed: an older healthcrawl numbered its results in the order they were "
            f"written, not by position in the sources; start a new run"
        )
    return run


def done_seqs(engine: Engine, run_id: str) -> SeqSet:
    """The sequence numbers of the targets that already have a result in the run, read in order."""
    query = (
        select(ResultRow.seq).where(ResultRow.run_id == run_id).order_by(ResultRow.seq)
        .execution_options(yield_per=STREAM_ROWS)
    )
    with engine.connect() as connection:
        return SeqSet(connection.execute(query).scalars())


@dataclass(frozen=True)
class FailingGroup:
    """The failing targets of one error kind or one failed check: how many, and the first ones."""

    name: str
    """The error kind, or the check's name."""
    count: int
    """Targets with that error kind, or that failed that check."""
    targets: list[tuple[str, str]]
    """``(target, error or check detail)`` of the first ``limit`` of them, in source order."""


@dataclass(frozen=True)
class RunReport:
    """What ``healthcrawl show`` prints about one run."""

    run: RunRecord
    by_error_kind: list[FailingGroup]
    """Targets whose fetch failed, by error kind, most first (each target has one kind)."""
    by_failed_check: list[FailingGroup]
    """Targets that failed each check, most first (a target may fail several checks)."""
    slowest: list[tuple[str, float]]
    """``(target, total_ms)``, slowest first."""
    expiring: list[tuple[str, int, str | None]]
    """``(target, days_left, not_after)``, soonest first."""

    @property
    def errors(self) -> int:
        """Targets whose fetch failed (the rest of the failed targets failed a check)."""
        return sum(group.count for group in self.by_error_kind)


def run_report(engine: Engine, run_id: str, top: int = 10) -> RunReport:
    """Failing targets by error kind and by failed check (counts and the first ``top`` of each), the
    slowest targets and the certificates expiring soonest."""
    run = find_run(engine, run_id)
    of_run = ResultRow.run_id == run.id
    count = func.count().label("n")
    with engine.connect() as connection:
        by_kind = connection.execute(
            select(ResultRow.error_kind, count).where(of_run, ResultRow.error_kind.is_not(None))
            .group_by(ResultRow.error_kind).order_by(count.desc(), ResultRow.error_kind)
        ).all()
        by_check = connection.execute(
            select(CheckOutcomeRow.name, count).where(CheckOutcomeRow.run_id == run.id, CheckOutcomeRow.ok.is_(False))
            .group_by(CheckOutcomeRow.name).order_by(count.desc(), CheckOutcomeRow.name)
        ).all()
        slowest = connection.execute(
            select(ResultRow.target, ResultRow.total_ms)
            .where(of_run, ResultRow.total_ms.is_not(None), ResultRow.error_kind.is_distinct_from("invalid_target"))
            .order_by(ResultRow.total_ms.desc()).limit(top)
        ).all()
        expiring = connection.execute(
            select(ResultRow.target, ResultRow.tls_days_left, ResultRow.tls_not_after)
            .where(of_run, ResultRow.tls_days_left.is_not(None))
            .order_by(ResultRow.tls_days_left, ResultRow.target).limit(top)
        ).all()
        kind_groups = [
            FailingGroup(kind, n, [tuple(row) for row in connection.execute(
                select(ResultRow.target, ResultRow.error).where(of_run, ResultRow.error_kind == kind)
                .order_by(ResultRow.seq).limit(top)
            )])
            for kind, n in by_kind
        ]
        check_groups = [
            FailingGroup(name, n, [tuple(row) for row in connection.execute(
                select(ResultRow.target, CheckOutcomeRow.detail)
                .join(ResultRow, and_(ResultRow.run_id == CheckOutcomeRow.run_id, ResultRow.seq == CheckOutcomeRow.seq))
                .where(CheckOutcomeRow.run_id == run.id, CheckOutcomeRow.name == name, CheckOutcomeRow.ok.is_(False))
                .order_by(CheckOutcomeRow.seq).limit(top)
            )])
            for name, n in by_check
        ]
    return RunReport(run, kind_groups, check_groups, [tuple(row) for row in slowest], [tuple(row) for row in expiring])


@dataclass(frozen=True)
class TargetState:
    """How one target fared in one run, as far as a diff cares."""

    ok: bool
    error_kind: str | None
    status_code: int | None
    tls_ok: bool | None
    """The ``tls_expiry`` check's verdict, ``None`` when it did not run."""
    tls_days_left: int | None
    failed_checks: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        """``ok``, the error kind, or the failed checks."""
        if self.ok:
            return "ok"
        return self.error_kind or "failed " + ", ".join(self.failed_checks or ("check",))


@dataclass
class RunDiff:
    """What changed between run ``a`` and run ``b``; each list holds ``(target, before, after)``."""

    a: RunRecord
    b: RunRecord
    newly_failing: list[tuple[str, str, str]] = field(default_factory=list)
    recovered: list[tuple[str, str, str]] = field(default_factory=list)
    status_changed: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    error_kind_changed: list[tuple[str, str | None, str | None]] = field(default_factory=list)
    tls_expiry_crossed: list[tuple[str, int | None, int | None]] = field(default_factory=list)
    """Targets whose ``tls_expiry`` verdict flipped, with days left before and after."""
    only_in_a: list[str] = field(default_factory=list)
    only_in_b: list[str] = field(default_factory=list)

    SECTIONS = ("newly_failing", "recovered", "status_changed", "error_kind_changed", "tls_expiry_crossed",
                "only_in_a", "only_in_b")


def diff_runs(engine: Engine, run_a: str, run_b: str, expiry_check: str = "tls_expiry") -> RunDiff:
    """Compare two runs target by target (run ``a`` is held in memory, run ``b`` is streamed).

    ``expiry_check`` is the name of the check whose verdict ``tls_expiry_crossed`` follows.
    """
    a, b = find_run(engine, run_a), find_run(engine, run_b)
    diff = RunDiff(a, b)
    before = dict(_target_states(engine, a.id, expiry_check))
    for target, after in _target_states(engine, b.id, expiry_check):
        old = before.pop(target, None)
        if old is None:
            diff.only_in_b.append(target)
            continue
        if old.ok and not after.ok:
            diff.newly_failing.append((target, old.verdict, after.verdict))
        elif after.ok and not old.ok:
            diff.recovered.append((target, old.verdict, after.verdict))
        if old.status_code != after.status_code:
            diff.status_changed.append((target, old.status_code, after.status_code))
        if old.error_kind != after.error_kind:
            diff.error_kind_changed.append((target, old.error_kind, after.error_kind))
        if old.tls_ok is not None and after.tls_ok is not None and old.tls_ok != after.tls_ok:
            diff.tls_expiry_crossed.append((target, old.tls_days_left, after.tls_days_left))
    diff.only_in_a = list(before)
    return diff


def _target_states(engine: Engine, run_id: str, expiry_check: str) -> Iterator[tuple[str, TargetState]]:
    tls = aliased(CheckOutcomeRow)
    failed = _failed_checks(engine, run_id)
    query = (
        select(ResultRow.target, ResultRow.ok, ResultRow.error_kind, ResultRow.status_code, tls.ok,
               ResultRow.tls_days_left, ResultRow.seq)
        .outerjoin(tls, and_(tls.run_id == ResultRow.run_id, tls.seq == ResultRow.seq, tls.name == expiry_check))
        .where(ResultRow.run_id == run_id)
        .order_by(ResultRow.seq)
        .execution_options(yield_per=STREAM_ROWS)
    )
    with engine.connect() as connection:
        for target, ok, error_kind, status_code, tls_ok, days_left, seq in connection.execute(query):
            yield target, TargetState(bool(ok), error_kind, status_code,
                                      None if tls_ok is None else bool(tls_ok), days_left, failed.get(seq, ()))


def _failed_checks(engine: Engine, run_id: str) -> dict[int, tuple[str, ...]]:
    query = (
        select(CheckOutcomeRow.seq, CheckOutcomeRow.name)
        .where(CheckOutcomeRow.run_id == run_id, CheckOutcomeRow.ok.is_(False))
        .order_by(CheckOutcomeRow.seq, CheckOutcomeRow.position)
    )
    found: dict[int, tuple[str, ...]] = {}
    with engine.connect() as connection:
        for seq, name in connection.execute(query):
            found[seq] = found.get(seq, ()) + (name,)
    return found


def as_utc(moment: datetime) -> datetime:
    """A stored timestamp in UTC (MySQL and SQLite hand back naive ones, which were stored in UTC)."""
    return moment.astimezone(timezone.utc) if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
