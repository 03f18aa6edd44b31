"""The command line: run, check, plugins, interrupts and exit codes.

Commands run in this process (the ``healthcrawl_cli`` fixture calls ``main(argv)``); the interrupt
and the closed pipe run ``python -m healthcrawl`` as a real child, since a signal and stdout's file
descriptor belong to a process.
"""

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap

import gevent

from healthcrawl.testing.servers import HTTPTestServer, free_port


def write_config(path, body):
    path.write_text(textwrap.dedent(body))
    return path


def test_run_stores_results_and_prints_a_summary(tmp_path, healthcrawl_cli):
    with HTTPTestServer() as server:
        server.route("/health", body="healthy")
        config = write_config(tmp_path / "crawl.yaml", f"""
            crawl: {{concurrency: 8, timeout: 5}}
            sources:
              - type: list
                targets: ["{server.url('/health')}", "{server.url('/missing')}", "http://127.0.0.1:{free_port()}/"]
            checks:
              - type: status
              - type: body_match
                pattern: healthy
            sinks:
              - type: sqlalchemy
                url: sqlite:///{tmp_path}/results.db
              - type: jsonl
                path: {tmp_path}/results.jsonl
        """)
        proc = healthcrawl_cli("run", config, cwd=tmp_path)
    assert proc.exit_code == 0, proc.stderr
    assert "targets: 3   ok: 1   failed a check: 1   errors: 1" in proc.stdout
    # The header counts targets; the breakdown counts checks: /missing failed two of them.
    breakdown = proc.stdout.split("failed checks (a target may fail several):\n")[1].split("slowest targets:")[0]
    assert sorted(line.split() for line in breakdown.splitlines()) == [["body_match", "1"], ["status", "1"]]
    assert "connect_refused" in proc.stdout and "slowest targets:" in proc.stdout
    records = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    assert len(records) == 3
    with sqlite3.connect(tmp_path / "results.db") as db:
        assert db.execute("SELECT state, targets, ok, failed FROM runs").fetchall() == [("completed", 3, 1, 2)]
        failed_body = db.execute(
            "SELECT r.target FROM results r JOIN check_outcomes c ON c.run_id = r.run_id AND c.seq = r.seq "
            "WHERE c.name = 'body_match' AND NOT c.ok"
        ).fetchall()
    assert failed_body == [(server.url("/missing"),)]


def test_check_prints_a_table(healthcrawl_cli):
    with HTTPTestServer() as server:
        proc = healthcrawl_cli("check", server.url("/"), server.url("/nope"), "ftp://example.com/")
    assert proc.exit_code == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["TARGET", "RESULT", "STATUS", "MS", "DETAIL"]
    rows = [line.split() for line in lines[1:]]
    assert [row[0] for row in rows] == [server.url("/"), server.url("/nope"), "ftp://example.com/"]  # input order
    assert rows[0][1:3] == ["ok", "200"]
    assert rows[1][1:3] == ["failed", "404"]
    assert rows[2][1:3] == ["invalid_target", "-"]


def test_plugins_lists_built_ins_with_their_types(healthcrawl_cli):
    proc = healthcrawl_cli("plugins")
    assert proc.exit_code == 0, proc.stderr
    text = proc.stdout
    for type_name in ("source:file", "source:list", "check:status", "check:body_match", "check:tls_expiry",
                      "sink:sqlalchemy", "sink:jsonl"):
        assert type_name in text
    assert "healthcrawl.plugins.checks.status" in text and "source: built-in" in text


def test_interrupt_flushes_finished_results_and_exits_130(tmp_path):
    with HTTPTestServer() as server:
        server.route("/slow", delay=60)
        targets = [server.url("/fast") + f"?n={i}" for i in range(20)] + [server.url("/slow") + f"?n={i}" for i in range(20)]
        config = write_config(tmp_path / "crawl.yaml", f"""
            crawl: {{concurrency: 30, timeout: 120}}
            sources: [{{type: list, targets: {json.dumps(targets)}}}]
            checks: [{{type: status, expect: [404]}}]
            sinks:
              - {{type: jsonl, path: "{tmp_path}/results.jsonl"}}
              - {{type: sqlalchemy, url: "sqlite:///{tmp_path}/results.db"}}
        """)
        child = subprocess.Popen([sys.executable, "-m", "healthcrawl", "run", str(config)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        results = tmp_path / "results.jsonl"
        for _ in range(1200):  # until the fast results are written and slow targets are in flight (60 s at most)
            written = len(results.read_text().splitlines()) if results.exists() else 0
            if written >= 20 and server.hits["/slow"] >= 10:
                break
            gevent.sleep(0.05)
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=30)
    assert child.returncode == 130, err
    assert "interrupted" in out and "Traceback" not in err
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert len(records) == 20 and all("/fast" in r["target"] for r in records)
    with sqlite3.connect(tmp_path / "results.db") as db:
        assert db.execute("SELECT state, targets FROM runs").fetchall() == [("interrupted", 20)]
        assert db.execute("SELECT count(*) FROM results").fetchone() == (20,)


def test_bad_sink_database_stops_before_crawling(tmp_path, healthcrawl_cli):
    with HTTPTestServer() as server:
        config = write_config(tmp_path / "crawl.yaml", f"""
            sources: [{{type: list, targets: ["{server.url('/')}"]}}]
            sinks: [{{type: sqlalchemy, url: "sqlite:///{tmp_path}/no/such/dir/x.db"}}]
        """)
        proc = healthcrawl_cli("run", config)
        assert server.hits["/"] == 0
    assert proc.exit_code == 1
    assert proc.stderr.startswith("error: sink 'sqlalchemy' cannot start:") and len(proc.stderr.splitlines()) == 1


def test_a_reader_that_goes_away_ends_the_command_without_a_traceback():
    """`healthcrawl plugins | head -1`: the closed pipe stops the command quietly."""
    child = subprocess.Popen([sys.executable, "-m", "healthcrawl", "plugins"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)
    child.stdout.close()  # the reader leaves before the first line is written
    stderr = child.stderr.read().decode()
    child.wait(timeout=30)
    assert "Traceback" not in stderr
    assert "BrokenPipeError" not in stderr


def test_a_missing_targets_file_is_one_error_line(tmp_path, healthcrawl_cli):
    config = write_config(tmp_path / "crawl.yaml", """
        crawl: {workers: 2}
        sources: [{type: file, path: nosuch.txt}]
    """)
    proc = healthcrawl_cli("run", config)
    assert proc.exit_code == 2
    assert proc.stderr == f"error: sources[0]: path {tmp_path}/nosuch.txt cannot be read: No such file or directory\n"


def test_a_config_that_is_not_utf8_is_one_error_line(tmp_path, healthcrawl_cli):
    config = tmp_path / "crawl.yaml"
    config.write_bytes(b"\xff\xfe\x00sources: []\n")
    proc = healthcrawl_cli("validate", config)
    assert proc.exit_code == 2
    assert proc.stderr == f"error: {config}: not UTF-8 text: invalid start byte at byte 0\n"


def test_a_usage_error_exits_2_with_the_usage(healthcrawl_cli):
    proc = healthcrawl_cli("run")
    assert proc.exit_code == 2
    assert proc.stderr.startswith("usage: healthcrawl run") and "required: config" in proc.stderr


def test_an_unknown_database_scheme_is_one_error_line(healthcrawl_cli):
    proc = healthcrawl_cli("runs", "--db", "bogus://x")
    assert proc.exit_code == 1
    assert proc.stderr.startswith("error: unknown database URL scheme:") and len(proc.stderr.splitlines()) == 1
