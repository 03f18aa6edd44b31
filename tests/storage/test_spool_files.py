"""Spool files: one per process, written whole; a torn tail is skipped; a full disk ends the run with what to do."""

import json
import os
import subprocess
import sys
from datetime import datetime, timezone

import pytest
from sqlalchemy import func, select

from healthcrawl import CheckOutcome, Result, RunInfo, Timings
from healthcrawl.plugins.database.storage.engines import open_engine
from healthcrawl.plugins.database.storage.replay import replay_spool
from healthcrawl.plugins.database.storage.schema import ResultRow
from healthcrawl.plugins.database.storage.spool import Spool, SpoolWriteError, read_spool, run_spools, spool_path
from healthcrawl.plugins.database.storage.store import ResultStore
from healthcrawl.testing.crawl import run_crawl_outcome
from healthcrawl.testing.servers import HTTPTestServer


def result(run_id, seq):
    now = datetime.now(timezone.utc)
    return Result(
        run_id=run_id, seq=seq, target=f"http://127.0.0.1:9/{seq}", ok=True, error_kind=None, error=None,
        status_code=200, final_url=None, redirects=0, body_bytes=2, body_truncated=False,
        timings=Timings(total_ms=1.0), tls=None, started_at=now, finished_at=now,
        checks=[CheckOutcome("status", True, "200")],
    )


def test_each_process_has_its_own_spool_and_a_resume_finds_them_all(tmp_path):
    mine = spool_path(tmp_path, "run1")
    code = "from healthcrawl.plugins.database.storage.spool import spool_path; print(spool_path('.', 'run1').name)"
    other = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert mine.name != other and str(os.getpid()) in mine.name
    (tmp_path / other).write_text("")
    mine.write_text("")
    (tmp_path / "run10.x.1.abc.jsonl").write_text("")  # another run whose id starts alike
    (tmp_path / "run1.jsonl").write_text("")  # an older healthcrawl's spool
    assert {path.name for path in run_spools(tmp_path, "run1")} == {mine.name, other, "run1.jsonl"}


def test_a_torn_tail_is_reported_and_skipped(db_url, tmp_path, caplog):
    engine = open_engine(db_url)
    store = ResultStore(engine)
    store.prepare()
    store.start_run(RunInfo(run_id="r1", config_name="t", started_at=datetime.now(timezone.utc), settings=None))
    spool = Spool(spool_path(tmp_path, "r1"), 2**20)
    spool.append(store.batch([result("r1", seq) for seq in range(10)]))
    spool.append(store.batch([result("r1", seq) for seq in range(10, 20)]))
    whole = spool.path.read_bytes()
    spool.path.write_bytes(whole[: len(whole) - 40])  # the second entry lost its end
    replayed = replay_spool(store, spool.path)
    with engine.connect() as connection:
        stored = connection.execute(select(func.count()).where(ResultRow.run_id == "r1")).scalar()
    engine.dispose()
    assert (replayed.written, stored) == (10, 10)
    assert "torn" in caplog.text and str(spool.path) in caplog.text


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KB tmpfs (needs root; skipped otherwise)."""
    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield folder
    subprocess.run(["umount", str(folder)], check=True)


def test_a_full_disk_keeps_every_entry_whole_and_says_what_to_do(tiny_disk):
    spool = Spool(spool_path(tiny_disk, "r1"), 2**30)
    batch = ResultStore(open_engine("sqlite://")).batch([result("r1", seq) for seq in range(50)])
    appended = 0
    with pytest.raises(SpoolWriteError) as failure:
        for _ in range(1000):
            spool.append(batch)
            appended += 1
    assert str(spool.path) in str(failure.value) and "No space left" in str(failure.value)
    lines = spool.path.read_bytes().split(b"\n")
    assert lines[-1] == b"" and len(lines) - 1 == appended > 0  # whole lines only
    assert all(json.loads(line) for line in lines[:-1])
    assert sum(len(entry) for entry in read_spool(spool.path)) == 50 * appended


def test_a_full_disk_under_the_spool_fails_the_run_with_what_to_do_and_resume_loses_nothing(
    relay, on_result, server_db_url, tiny_disk
):
    on_result(lambda seen: seen == 100 and relay.cut())
    with HTTPTestServer() as server:
        config = {
            "crawl": {"concurrency": 20, "timeout": 10, "batch_size": 100},
            "sources": [{"type": "list", "targets": [server.url("/") + f"?n={i}" for i in range(3000)]}],
            "checks": [{"type": "status"}],
            "sinks": [{"type": "sqlalchemy", "url": relay.db_url, "spool_dir": str(tiny_disk), "retry_for": 600}],
        }
        outcome, records = run_crawl_outcome(config)
        run_id = outcome.run.run_id
        [spool] = run_spools(tiny_disk, run_id)
        assert outcome.state == "failed" and "No space left on device" in outcome.error, outcome.error
        assert f"cannot write the spool {spool}" in outcome.error and f"healthcrawl replay {spool}" in outcome.error
        assert all(line.endswith(b"}") for line in spool.read_bytes().splitlines())  # whole entries only

        relay.restore()
        resumed, more = run_crawl_outcome(config, resume=run_id)
    assert resumed.state == "completed", resumed.error
    engine = open_engine(server_db_url)
    with engine.connect() as connection:
        stored = connection.execute(
            select(func.count(), func.count(func.distinct(ResultRow.seq))).where(ResultRow.run_id == run_id)
        ).one()
    engine.dispose()
    assert tuple(stored) == (3000, 3000) and not run_spools(tiny_disk, run_id)
