"""Database failures are told in one line, never a traceback, never the values of rows."""

import json
import subprocess
import sys
import textwrap

import gevent
from sqlalchemy import create_engine, func, make_url, select, text

from healthcrawl.plugins.database.storage.engines import open_engine
from healthcrawl.plugins.database.storage.migrations import upgrade_schema
from healthcrawl.plugins.database.storage.schema import ResultRow
from healthcrawl.testing.servers import HTTPTestServer, free_port

TARGETS = 1500


def test_backends_terminated_mid_run_print_no_traceback_and_lose_nothing(pg_db_url, tmp_path):
    crawl_url = make_url(pg_db_url).update_query_dict({"application_name": "hc_terminated"})
    with HTTPTestServer() as server:
        server.route("/slow", delay=0.01)
        config = tmp_path / "crawl.yaml"
        (tmp_path / "targets.txt").write_text("".join(f"{server.url('/slow')}?n={i}\n" for i in range(TARGETS)))
        config.write_text(textwrap.dedent(f"""
            crawl: {{concurrency: 20, timeout: 30, batch_size: 20, workers: 1}}
            sources: [{{type: file, path: targets.txt}}]
            checks: [{{type: status}}]
            sinks: [{{type: sqlalchemy, url: "{crawl_url.render_as_string(hide_password=False)}", spool_dir: "{tmp_path}/spool"}}]
        """))
        crawl = subprocess.Popen([sys.executable, "-m", "healthcrawl", "run", str(config)], cwd=tmp_path,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        admin = create_engine(make_url(pg_db_url).difference_update_query(["options"]), isolation_level="AUTOCOMMIT")
        terminated = 0
        for _ in range(3):  # three times, while the crawl runs
            for _ in range(2400):
                if sum(server.hits.values()) >= (terminated + 1) * TARGETS // 4 or crawl.poll() is not None:
                    break
                gevent.sleep(0.05)
            with admin.connect() as connection:
                terminated += connection.execute(text(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE application_name = 'hc_terminated'"
                )).scalar() and 1
        admin.dispose()
        out, err = crawl.communicate(timeout=300)
    assert crawl.returncode == 0, err
    assert "Traceback" not in err and "psycopg2" not in err, err
    engine = open_engine(pg_db_url)
    with engine.connect() as connection:
        stored = connection.execute(select(func.count(), func.count(func.distinct(ResultRow.target)))).one()
    engine.dispose()
    assert tuple(stored) == (TARGETS, TARGETS) and terminated


def test_replay_and_runs_with_an_unreachable_server_say_one_line(pg_db_url, tmp_path):
    unreachable = make_url(pg_db_url).set(port=free_port()).render_as_string(hide_password=False)
    spool = tmp_path / "r1.host.1.abc.jsonl"
    secret_value = "http://127.0.0.1:9/a-value-that-must-not-be-printed"
    spool.write_text('{"batch":{"run_id":"r1","results":[{"run_id":"r1","seq":0,"target":"%s",'
                     '"started_at":"2026-01-01T00:00:00+00:00","finished_at":"2026-01-01T00:00:00+00:00"}],'
                     '"outcomes":[]}}\n' % secret_value)
    for command in (["replay", str(spool), "--db", unreachable], ["runs", "--db", unreachable]):
        proc = subprocess.run([sys.executable, "-m", "healthcrawl", *command], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1, proc
        assert len(proc.stderr.splitlines()) == 1 and proc.stderr.startswith("error: "), proc.stderr
        assert "Traceback" not in proc.stderr and secret_value not in proc.stderr + proc.stdout
    assert spool.exists()


def test_a_failing_database_mid_command_is_one_line_without_values(db_url, tmp_path):
    """The database answers, then a statement fails (its tables were renamed): no statement, no values."""
    engine = open_engine(db_url)
    upgrade_schema(engine)
    with engine.begin() as connection:
        connection.execute(text("ALTER TABLE results RENAME TO results_gone"))
        connection.execute(text("ALTER TABLE runs RENAME TO runs_gone"))
    engine.dispose()
    secret_value = "http://127.0.0.1:9/a-value-that-must-not-be-printed"
    spool = tmp_path / "r1.host.1.abc.jsonl"
    spool.write_text(json.dumps({"batch": {"run_id": "r1", "outcomes": [], "results": [{
        "run_id": "r1", "seq": 0, "target": secret_value, "ok": True, "redirects": 0, "body_bytes": 0,
        "body_truncated": False, "started_at": "2026-01-01T00:00:00+00:00", "finished_at": "2026-01-01T00:00:00+00:00",
    }]}}) + "\n")
    for command in (["replay", str(spool), "--db", db_url], ["runs", "--db", db_url]):
        proc = subprocess.run([sys.executable, "-m", "healthcrawl", *command], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 1 and len(proc.stderr.splitlines()) == 1, proc.stderr
        assert proc.stderr.startswith("error: the database failed: ") and secret_value not in proc.stderr, proc.stderr
    assert spool.exists()
