"""The report's SQL aggregates on SQLite, PostgreSQL and MariaDB."""

import random
from datetime import datetime, timedelta, timezone

import pytest

from healthcrawl.plugins.database.report.data import FAILING_ROWS, PHASES, gather
from healthcrawl.plugins.database.storage.migrations import current_database
from healthcrawl.plugins.database.storage.store import ResultStore
from tests.report.synthetic_runs import store_run

TARGETS = 3_000


@pytest.fixture(params=("sqlite", "postgresql", "mysql"))
def engine(request, isolated_database):
    """An engine on an empty database of each kind (the servers skip when unreachable, fail in CI)."""
    with current_database(isolated_database(request.param)) as engine:
        yield engine


def test_aggregates_agree_with_the_stored_run(engine):
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    now = datetime.now(timezone.utc)
    store = ResultStore(engine)
    store_run(store, "a" * 32, now - timedelta(days=1), rng, TARGETS)
    store_run(store, "b" * 32, now, rng, TARGETS)

    data = gather(engine, None)
    assert data.run.id == "b" * 32 and data.previous.id == "a" * 32
    assert sum(data.outcomes.values()) == TARGETS and data.outcomes["ok"] == data.run.ok
    assert data.failing_total == data.run.failed
    for phase in PHASES:  # every synthetic target has every timing
        assert sum(b.count for b in data.latency if b.phase == phase) == TARGETS, phase
    assert len(data.failing) == min(FAILING_ROWS, data.failing_total)
    assert [row.seq for row in data.failing] == sorted(row.seq for row in data.failing)
    assert all(row.error_kind or row.failed_checks for row in data.failing)
    assert sum(group.count for group in data.summary.by_error_kind) == data.outcomes["error"]
    assert [days for _, days, _ in data.summary.expiring] == sorted(days for _, days, _ in data.summary.expiring)
    previous_failing = TARGETS - data.previous_outcomes["ok"]
    assert data.failing_total - previous_failing == len(data.diff.newly_failing) - len(data.diff.recovered)
    assert gather(engine, "a" * 8).previous is None
