"""Interrupting a big crawl (SIGINT/SIGTERM) and resuming it: every target ends with exactly one result."""

import random
import signal
import subprocess
import sys
import textwrap

import gevent
from sqlalchemy import func, select

from healthcrawl.plugins.database.storage.engines import open_engine
from healthcrawl.plugins.database.storage.schema import ResultRow, Run
from healthcrawl.testing.servers import HTTPTestServer

TARGETS = 3000
CONCURRENCY = 50


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
    point = random.Random().randrange(200, TARGETS - 500)
    with HTTPTestServer() as server:
        server.route("/", body="ok")
        config = write_crawl(tmp_path, server, db_url)
        code, out, err = interrupt_at(server, config, point, random.choice([signal.SIGINT, signal.SIGTERM]), tmp_path)
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
    assert proc.returncode == 1 and proc.stderr.startswith("error: no interrupted or failed run of")
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
