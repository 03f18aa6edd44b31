"""One bad row never stops a run: rows a database refuses are stored in a safe form, the rest of their batch as is."""

import subprocess
import sys
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from healthcrawl import CheckOutcome, Result, RunInfo, Timings
from healthcrawl.plugins.database.storage.engines import open_engine
from healthcrawl.plugins.database.storage.schema import CheckOutcomeRow, ResultRow, Run
from healthcrawl.plugins.database.storage.spool import Spool, spool_path
from healthcrawl.plugins.database.storage.safe_rows import MAX_TARGET_LENGTH
from healthcrawl.plugins.database.storage.store import ResultStore
from healthcrawl.testing.crawl import run_crawl_outcome
from healthcrawl.testing.servers import HTTPTestServer

POISON = {
    "nul": "http://127.0.0.1:9/a\x00b",
    "surrogate": "http://127.0.0.1:9/\ud800",
    "long": "http://127.0.0.1:9/" + "x" * 70_000,
}


def stored_rows(url, run_id):
    engine = open_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(
            select(ResultRow.seq, ResultRow.target, ResultRow.error_kind, ResultRow.error)
            .where(ResultRow.run_id == run_id).order_by(ResultRow.seq)
        ).all()
        run = connection.execute(select(Run.state, Run.targets).where(Run.id == run_id)).one()
    engine.dispose()
    return rows, run


@pytest.mark.parametrize("poison", sorted(POISON))
def test_a_poison_target_is_stored_safely_and_the_rest_of_its_batch_too(db_url, poison, tmp_path):
    with HTTPTestServer() as server:
        targets = [server.url(f"/n{i}") for i in range(40)]
        targets[17] = POISON[poison]
        config = {
            "crawl": {"concurrency": 10, "timeout": 5, "batch_size": 100},
            "sources": [{"type": "list", "targets": targets}],
            "checks": [{"type": "status"}],
            "sinks": [{"type": "sqlalchemy", "url": db_url, "retry_for": 0, "spool_dir": str(tmp_path)}],
        }
        outcome, records = run_crawl_outcome(config)
    assert outcome.state == "completed", outcome.error
    rows, run = stored_rows(db_url, outcome.run.run_id)
    assert [row.seq for row in rows] == list(range(40)), "lost or doubled rows"
    assert run == ("completed", 40)
    bad = rows[17]
    assert bad.error_kind == "invalid_target" and bad.error
    assert "\x00" not in bad.target and len(bad.target) <= MAX_TARGET_LENGTH
    bad.target.encode("utf-8")  # storable everywhere
    assert all(row.target == target for row, target in zip(rows, targets) if row.seq != 17)


def make_result(run_id, seq, detail="fine"):
    now = datetime.now(timezone.utc)
    return Result(
        run_id=run_id, seq=seq, target=f"http://127.0.0.1:9/{seq}", ok=True, error_kind=None, error=None,
        status_code=200, final_url=f"http://127.0.0.1:9/{seq}", redirects=0, body_bytes=2, body_truncated=False,
        timings=Timings(total_ms=1.0), tls=None, started_at=now, finished_at=now,
        checks=[CheckOutcome("status", True, detail)],
    )


def test_a_poison_value_in_any_column_splits_the_batch(db_url):
    """A lone surrogate in a check's detail fails the write on every database: only that row changes form."""
    engine = open_engine(db_url)
    store = ResultStore(engine)
    store.prepare()
    store.start_run(RunInfo(run_id="r1", config_name="t", started_at=datetime.now(timezone.utc), settings=None))
    results = [make_result("r1", seq, detail="bad \ud800" if seq in (3, 61) else "fine") for seq in range(100)]
    store.insert(store.batch(results))
    with engine.connect() as connection:
        seqs = connection.execute(select(ResultRow.seq).where(ResultRow.run_id == "r1").order_by(ResultRow.seq)).scalars().all()
        kinds = dict(connection.execute(select(ResultRow.seq, ResultRow.error_kind).where(ResultRow.run_id == "r1")).all())
        outcomes = connection.execute(select(func.count()).select_from(CheckOutcomeRow)).scalar()
    engine.dispose()
    assert seqs == list(range(100))
    assert {seq for seq, kind in kinds.items() if kind} == {3, 61}
    assert kinds[3] == "invalid_target"
    assert outcomes == 98  # a poison row keeps its result, not its check outcomes


def test_writing_a_batch_twice_or_overlapping_stores_each_row_once(db_url):
    """Idempotency is per row: a batch overlapping stored rows (not only at its start) adds only the missing ones."""
    engine = open_engine(db_url)
    store = ResultStore(engine)
    store.prepare()
    store.start_run(RunInfo(run_id="r1", config_name="t", started_at=datetime.now(timezone.utc), settings=None))
    store.insert(store.batch([make_result("r1", seq) for seq in range(5, 10)]))
    store.insert(store.batch([make_result("r1", seq) for seq in range(0, 20)]))  # the middle is stored already
    store.insert(store.batch([make_result("r1", seq) for seq in range(0, 20)]))
    with engine.connect() as connection:
        seqs = connection.execute(select(ResultRow.seq).where(ResultRow.run_id == "r1").order_by(ResultRow.seq)).scalars().all()
        outcomes = connection.execute(select(func.count()).select_from(CheckOutcomeRow)).scalar()
    engine.dispose()
    assert seqs == list(range(20)) and outcomes == 20


PLAIN_REPLAY = """
import sys
from healthcrawl.plugins.database.storage.engines import open_engine
from healthcrawl.plugins.database.storage.replay import replay_spool
from healthcrawl.plugins.database.storage.store import ResultStore
replayed = replay_spool(ResultStore(open_engine(sys.argv[1])), sys.argv[2])
print(replayed.written, replayed.skipped)
"""


def test_replaying_a_batch_that_overlaps_stored_rows_without_gevent_stores_the_missing_ones(db_url, tmp_path):
    """A process without gevent's patches (a script using the storage): PostgreSQL's staging path works there too."""
    engine = open_engine(db_url)
    store = ResultStore(engine)
    store.prepare()
    store.start_run(RunInfo(run_id="r1", config_name="t", started_at=datetime.now(timezone.utc), settings=None))
    store.insert(store.batch([make_result("r1", seq) for seq in range(0, 20, 2)]))
    spool = Spool(spool_path(tmp_path, "r1"), 2**20)
    spool.append(store.batch([make_result("r1", seq) for seq in range(20)]))
    engine.dispose()
    replay = subprocess.run([sys.executable, "-c", PLAIN_REPLAY, db_url, str(spool.path)],
                            capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.split() == ["10", "10"]
    engine = open_engine(db_url)
    with engine.connect() as connection:
        seqs = connection.execute(select(ResultRow.seq).where(ResultRow.run_id == "r1").order_by(ResultRow.seq)).scalars().all()
    engine.dispose()
    assert seqs == list(range(20))
