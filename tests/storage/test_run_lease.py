"""One owner per run: a second resume of a live run is refused, a run whose owner died is stale and resumable."""

import signal
import socket
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select, update

from healthcrawl import RunInfo
from healthcrawl.plugins.database.storage import lease
from healthcrawl.plugins.database.storage.engines import open_engine
from healthcrawl.plugins.database.storage.schema import ResultRow, Run
from healthcrawl.plugins.database.storage.store import ResultStore
from healthcrawl.testing.servers import HTTPTestServer

TARGETS = 400


def healthcrawl(*args, cwd):
    return subprocess.Popen([sys.executable, "-m", "healthcrawl", *args], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def the_run(db_url):
    engine = open_engine(db_url)
    with engine.connect() as connection:
        runs = connection.execute(select(Run.id, Run.state, Run.owner)).all()
        per_seq = connection.execute(select(ResultRow.seq, func.count()).group_by(ResultRow.seq)).all()
    engine.dispose()
    return runs, dict(per_seq)


def test_a_run_has_one_owner_and_a_dead_owners_run_is_resumed_by_plain_resume(db_url, tmp_path, wait_until):
    with HTTPTestServer() as server:
        server.route("/slow", delay=0.05)
        config = tmp_path / "crawl.yaml"
        config.write_text(textwrap.dedent(f"""
            crawl: {{concurrency: 4, timeout: 30, batch_size: 10, workers: 1}}
            sources: [{{type: list, targets: [{", ".join(f'"{server.url("/slow")}?n={i}"' for i in range(TARGETS))}]}}]
            checks: [{{type: status}}]
            sinks: [{{type: sqlalchemy, url: "{db_url}", spool_dir: "{tmp_path}/spool"}}]
        """))
        owner = healthcrawl("run", str(config), cwd=tmp_path)
        assert wait_until(lambda: sum(server.hits.values()) >= 40 and the_run(db_url)[1])
        (run_id, state, holder), = the_run(db_url)[0]
        assert (state, holder) == ("running", f"{socket.gethostname()}:{owner.pid}")

        second = healthcrawl("run", str(config), "--resume", run_id, cwd=tmp_path)
        _, err = second.communicate(timeout=120)
        assert second.returncode == 1 and len(err.splitlines()) == 1, err
        assert f"is being crawled by {holder}" in err and "Traceback" not in err

        owner.send_signal(signal.SIGKILL)
        owner.communicate(timeout=60)
        listed = subprocess.run([sys.executable, "-m", "healthcrawl", "runs", "--db", db_url],
                                capture_output=True, text=True, timeout=120)
        assert "running" in listed.stdout.splitlines()[1]
        engine = open_engine(db_url)  # the lease runs out, as it would a minute later
        with engine.begin() as connection:
            connection.execute(update(Run).values(lease_expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        engine.dispose()
        listed = subprocess.run([sys.executable, "-m", "healthcrawl", "runs", "--db", db_url],
                                capture_output=True, text=True, timeout=120)
        assert listed.stdout.splitlines()[1].split()[-1] == "stale", listed.stdout

        resumers = [healthcrawl("run", str(config), "--resume", cwd=tmp_path) for _ in range(2)]
        errors = [process.communicate(timeout=300)[1] for process in resumers]
        ended = [(process.returncode, err) for process, err in zip(resumers, errors)]
    assert sorted(code for code, _ in ended) == [0, 1], ended
    refused = next(err for code, err in ended if code == 1)
    assert len(refused.splitlines()) == 1 and "Traceback" not in refused, refused
    runs, per_seq = the_run(db_url)
    assert runs == [(run_id, "completed", None)]
    assert sorted(per_seq) == list(range(TARGETS)) and set(per_seq.values()) == {1}


def test_the_heartbeat_renews_the_lease_and_finishing_gives_it_up(db_url, monkeypatch, wait_until):
    monkeypatch.setattr(lease, "LEASE_SECONDS", 0.2)
    engine = open_engine(db_url)
    store = ResultStore(engine)
    store.prepare()
    store.start_run(RunInfo(run_id="r1", config_name="t", started_at=datetime.now(timezone.utc), settings=None))

    def lease_of_r1():
        with engine.connect() as connection:
            return tuple(connection.execute(select(Run.owner, Run.lease_expires_at).where(Run.id == "r1")).one())

    owner, first = lease_of_r1()
    assert owner == lease.this_process()
    beat = lease.Heartbeat(engine, "r1")
    try:
        assert wait_until(lambda: lease_of_r1()[1] > first)
    finally:
        beat.stop()
    store.finish_run("r1", "completed")
    assert lease_of_r1() == (None, None)
    engine.dispose()
