"""Nothing lost: a database that goes away mid-crawl, that comes back, or that never does (then replay)."""

import shutil
import subprocess
import sys

import gevent
from sqlalchemy import func, select

from healthcrawl.plugins.database.storage.engines import open_engine
from healthcrawl.plugins.database.storage.schema import ResultRow, Run
from healthcrawl.testing.crawl import run_crawl_outcome
from healthcrawl.testing.servers import HTTPTestServer


def crawl(relay, server, tmp_path, count, **sink):
    config = {
        "crawl": {"concurrency": 20, "timeout": 10, "batch_size": 100},
        "sources": [{"type": "list", "targets": [server.url("/") + f"?n={i}" for i in range(count)]}],
        "checks": [{"type": "status"}],
        "sinks": [{"type": "sqlalchemy", "url": relay.db_url, "spool_dir": str(tmp_path / "spool"), **sink}],
    }
    return run_crawl_outcome(config)


def stored(db_url, run_id):
    engine = open_engine(db_url)
    with engine.connect() as connection:
        targets = connection.execute(select(ResultRow.target).where(ResultRow.run_id == run_id)).scalars().all()
        seqs = connection.execute(select(func.count(func.distinct(ResultRow.seq))).where(ResultRow.run_id == run_id)).scalar()
        run = connection.execute(select(Run).where(Run.id == run_id)).one()
    engine.dispose()
    assert seqs == len(targets)
    return sorted(targets), run


def test_a_database_that_comes_back_gets_every_result(relay, on_result, server_db_url, tmp_path):
    def outage(seen):
        if seen == 300:
            relay.cut()
        elif seen == 1200:
            gevent.spawn_later(1.0, relay.restore)

    on_result(outage)
    with HTTPTestServer() as server:
        outcome, records = crawl(relay, server, tmp_path, 2000)
    assert outcome.state == "completed" and outcome.error is None
    targets, run = stored(server_db_url, outcome.run.run_id)
    assert targets == sorted(record["target"] for record in records) and len(targets) == 2000
    assert (run.state, run.targets) == ("completed", 2000)
    assert not list((tmp_path / "spool").glob("*"))  # written back, then removed
    assert relay.connections > 2  # the connections were cut and made again


def test_a_database_that_never_returns_leaves_a_spool_to_replay(relay, on_result, server_db_url, tmp_path):
    on_result(lambda seen: seen == 200 and relay.cut())
    with HTTPTestServer() as server:
        server.route("/", body="ok", delay=0.02)
        outcome, records = crawl(relay, server, tmp_path, 3000, retry_for=1)
    run_id = outcome.run.run_id
    [spool] = (tmp_path / "spool").glob(f"{run_id}.*.jsonl")
    assert outcome.state == "failed"
    assert "unreachable" in outcome.error and str(spool) in outcome.error and "healthcrawl replay" in outcome.error
    assert 200 <= len(records) < 3000  # the crawl stopped when the database was given up
    before, _ = stored(server_db_url, run_id)
    assert len(before) < len(records) and spool.is_file()

    relay.restore()
    copy = shutil.copy(spool, tmp_path / "copy.jsonl")
    replay = subprocess.run([sys.executable, "-m", "healthcrawl", "replay", str(spool), "--db", relay.db_url],
                            capture_output=True, text=True, timeout=120)
    assert replay.returncode == 0, replay.stderr
    after, run = stored(server_db_url, run_id)
    assert after == sorted(record["target"] for record in records)  # every result exactly once
    assert (run.state, run.targets) == ("failed", len(records)) and not spool.exists()
    assert f"{len(records) - len(before)} results written" in replay.stdout

    again = subprocess.run([sys.executable, "-m", "healthcrawl", "replay", str(copy), "--db", relay.db_url],
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and " 0 results written" in again.stdout
    assert stored(server_db_url, run_id)[0] == after


def test_a_full_spool_makes_the_crawl_wait_for_the_database(relay, on_result, server_db_url, tmp_path, wait_until):
    # Progress, not time: the database stays away until the spool is full and one more retry has
    # failed; meanwhile the crawl must hand over no further result and the spool must stop growing.
    progress = {"results": 0}
    seen = {}

    def spool_size():
        return sum(path.stat().st_size for path in (tmp_path / "spool").glob("*.jsonl"))

    def keep_the_database_away_while_the_crawl_waits():
        try:
            if wait_until(lambda: spool_size() >= 2**20):
                seen["full"] = (progress["results"], spool_size())
                tries = relay.connections
                if wait_until(lambda: relay.connections > tries):
                    seen["a retry later"] = (progress["results"], spool_size())
        finally:
            relay.restore()

    def outage(count):
        progress["results"] = count
        if count == 100:
            relay.cut()
            gevent.spawn(keep_the_database_away_while_the_crawl_waits)

    on_result(outage)
    with HTTPTestServer() as server:
        outcome, records = crawl(relay, server, tmp_path, 4000, spool_max_mb=1)
    assert outcome.state == "completed"
    targets, _ = stored(server_db_url, outcome.run.run_id)
    assert len(targets) == len(records) == 4000
    assert "full" in seen and "a retry later" in seen, seen
    assert seen["a retry later"] == seen["full"]  # no result handed over, nothing spooled while full
    assert seen["full"][1] < 2**20 + 200_000  # filled to its bound plus at most one batch
