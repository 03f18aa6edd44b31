"""Interrupting a big crawl (SIGINT/SIGTERM) and resuming it: every target ends with exactly one result.

The interrupt point and signal are drawn from ``HEALTHCRAWL_TEST_SEED`` (a fixed seed by default);
the seed is printed, so a failure can be replayed with the same draw.
"""

import os
import random
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import gevent
from sqlalchemy import func, select, text

from healthcrawl import CrawlSettings, Result, RunInfo, Timings
from healthcrawl.cli.main import main
from healthcrawl.plugins.database.sink import DatabaseSink, DatabaseSinkOptions
from healthcrawl.plugins.database.storage.engines import open_engine
from healthcrawl.plugins.database.storage.migrations import upgrade_schema
from healthcrawl.plugins.database.storage.schema import SOURCE_NUMBERING, ResultRow, Run
from healthcrawl.plugins.database.storage.store import ResultStore
from healthcrawl.testing.servers import HTTPTestServer

TARGETS = 3000
CONCURRENCY = 50
SEED = int(os.environ.get("HEALTHCRAWL_TEST_SEED", "9"))


def healthcrawl(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "healthcrawl", *args], capture_output=True, text=True,
                          timeout=300, **kwargs)


def write_crawl(tmp_path, server, db_url):
    (tmp_path / "targets.txt").write_text("".join(server.url(f"/n{i}") + "\n" for i in range(TARGETS)))
    config = tmp_path / "crawl.yaml"
    config.write_text(textwrap.dedent(f"""
        crawl: {{concurrency: {CONCURRENCY}, timeout: 30, batch_size: 200}}
        sources: [{{type: file, path: targets.txt}}]
        checks: [{{type: status, expect: [404]}}]
        sinks: [{{type: sqlalchemy, url: "{db_url}", spool_dir: "{tmp_path}/spool"}}]
    """))
    return config


def interrupt_at(server, config, hits, signum, cwd):
    child = subprocess.Popen([sys.executable, "-m", "healthcrawl", "run", str(config)], cwd=cwd,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(1200):
        if sum(server.hits.values()) >= hits or child.poll() is not None:
            break
        gevent.sleep(0.025)
    child.send_signal(signum)
    out, err = child.communicate(timeout=120)
    return child.returncode, out, err


def runs_and_results(db_url):
    engine = open_engine(db_url)
    with engine.connect() as connection:
        runs = connection.execute(select(Run.id, Run.state, Run.targets)).all()
        per_target = dict(connection.execute(select(ResultRow.target, func.count()).group_by(ResultRow.target)).all())
    engine.dispose()
    return runs, per_target


def test_an_interrupted_crawl_resumes_and_every_target_has_exactly_one_result(db_url, tmp_path):
    draw = random.Random(SEED)
    point, signum = draw.randrange(200, TARGETS - 500), draw.choice([signal.SIGINT, signal.SIGTERM])
    print(f"HEALTHCRAWL_TEST_SEED={SEED}: interrupt with {signum.name} after {point} fetches")
    with HTTPTestServer() as server:
        server.route("/", body="ok")
        config = write_crawl(tmp_path, server, db_url)
        code, out, err = interrupt_at(server, config, point, signum, tmp_path)
        assert code == 130, err
        assert "interrupted" in out and "Traceback" not in err
        runs, first = runs_and_results(db_url)
        (run_id, state, stored), = runs
        assert state == "interrupted" and stored == len(first) and 0 < len(first) < TARGETS, (point, len(first))
        assert set(first.values()) == {1}
        hits_before = sum(server.hits.values())

        resumed = healthcrawl("run", str(config), "--resume", cwd=tmp_path)
        assert resumed.returncode == 0, resumed.stderr
        assert f"run {run_id} completed" in resumed.stdout
        refetched = sum(server.hits.values()) - hits_before
    runs, after = runs_and_results(db_url)
    assert runs == [(run_id, "completed", TARGETS)]
    assert sorted(after) == sorted(server.url(f"/n{i}") for i in range(TARGETS))
    assert set(after.values()) == {1}  # exactly one result per target
    assert refetched == TARGETS - len(first)  # only the targets without a result were checked again


def test_resume_without_an_interrupted_run_is_a_one_line_error(tmp_path):
    with HTTPTestServer() as server:
        config = write_crawl(tmp_path, server, f"sqlite:///{tmp_path}/h.db")
        proc = healthcrawl("run", str(config), "--resume", cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr.startswith("error: no interrupted, failed or stale run of")
    assert len(proc.stderr.splitlines()) == 1


def test_resuming_a_completed_run_is_refused(tmp_path):
    with HTTPTestServer() as server:
        (tmp_path / "targets.txt").write_text(server.url("/") + "\n")
        config = tmp_path / "crawl.yaml"
        config.write_text(f'sources: [{{type: file, path: targets.txt}}]\n'
                          f'sinks: [{{type: sqlalchemy, url: "sqlite:///{tmp_path}/h.db"}}]\n')
        first = healthcrawl("run", str(config), cwd=tmp_path)
        run_id = first.stdout.split()[1]
        proc = healthcrawl("run", str(config), "--resume", run_id[:8], cwd=tmp_path)
    assert proc.returncode == 1 and proc.stderr == f"error: run {run_id} completed: there is nothing to resume\n"


def stored_result(run_id, seq):
    now = datetime.now(timezone.utc)
    return Result(target=f"http://127.0.0.1/n{seq}", run_id=run_id, ok=True, error_kind=None, error=None,
                  status_code=200, final_url=None, redirects=0, body_bytes=0, body_truncated=False, checks=(),
                  timings=Timings(), tls=None, started_at=now, finished_at=now, seq=seq)


def test_resume_reads_back_the_sequence_numbers_a_run_has_results_for(db_url):
    done = [0, 1, 2, 7, 8, 15, 16, 40_000]  # gaps, a byte boundary, and one far away
    engine = open_engine(db_url)
    store = ResultStore(engine)
    store.prepare()
    store.start_run(RunInfo("r1", "crawl.yaml", datetime.now(timezone.utc), CrawlSettings()))
    store.insert(store.batch([stored_result("r1", seq) for seq in reversed(done)]))
    store.finish_run("r1", "interrupted")
    with engine.connect() as connection:
        numbering = connection.execute(select(Run.numbering)).scalar_one()
    engine.dispose()
    resume = DatabaseSink.find_resume(DatabaseSinkOptions().load({"url": db_url}), "crawl.yaml", None)
    assert numbering == SOURCE_NUMBERING
    assert resume.run_id == "r1" and len(resume.done) == len(done)
    assert [seq for seq in range(40_001) if seq in resume.done] == done


def test_a_run_stored_before_source_numbering_is_refused_in_one_line(db_url, tmp_path, capsys):
    engine = open_engine(db_url)
    upgrade_schema(engine, "0003")  # what an older healthcrawl left: seq counted results in write order
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO runs (id, config, state, started_at, targets, ok, failed) "
            "VALUES ('old', 'crawl.yaml', 'interrupted', '2026-01-02 03:04:05', 2, 2, 0)"
        ))
    with HTTPTestServer() as server:
        config = write_crawl(tmp_path, server, db_url)
        code = main(["run", str(config), "--resume", "old"])
        assert sum(server.hits.values()) == 0
    err = capsys.readouterr().err
    assert code == 1 and err == (
        "error: run old cannot be resumed: an older healthcrawl numbered its results in the order they were "
        "written, not by position in the sources; start a new run\n"
    )
    with engine.connect() as connection:
        assert connection.execute(select(Run.state, Run.numbering)).all() == [("interrupted", None)]
    engine.dispose()
