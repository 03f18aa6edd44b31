"""The run history commands on a real database: runs, show, and diff as a table and as JSON."""

import json
import subprocess
import sys

import pytest

from healthcrawl.testing.certs import CertAuthority
from healthcrawl.testing.crawl import run_crawl_outcome
from healthcrawl.testing.servers import HTTPTestServer, free_port


def healthcrawl(*args, **kwargs):
    proc = subprocess.run([sys.executable, "-m", "healthcrawl", *args], capture_output=True, text=True,
                          timeout=120, **kwargs)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """Run A, then run B of the same targets after some changed; returns (db_url, run A, run B, urls)."""
    tmp_path = tmp_path_factory.mktemp("history")
    db_url = f"sqlite:///{tmp_path}/history.db"
    with CertAuthority() as ca, HTTPTestServer() as http, HTTPTestServer(tls=True, ca=ca, days_left=20) as tls:
        urls = {name: http.url(f"/{name}") for name in ("stable", "breaks", "heals", "late", "gone", "new")}
        urls["tls"] = tls.url("/", host="localhost")
        urls["refused"] = f"http://127.0.0.1:{free_port()}/"

        def crawl(names, min_days):
            config = {
                "crawl": {"timeout": 0.5, "verify": ca.ca_bundle_path},
                "sources": [{"type": "list", "targets": [urls[name] for name in names]}],
                "checks": [{"type": "status"}, {"type": "tls_expiry", "min_days": min_days}],
                "sinks": [{"type": "sqlalchemy", "url": db_url}],
            }
            return run_crawl_outcome(config)[0].run.run_id

        for name in ("stable", "breaks", "gone", "new"):
            http.route(f"/{name}")
        http.route("/heals", status=503)
        http.route("/late", delay=3)
        run_a = crawl(["stable", "breaks", "heals", "late", "gone", "tls", "refused"], min_days=14)
        http.route("/breaks", status=500)
        http.route("/heals", status=200)
        http.route("/late", delay=0)
        run_b = crawl(["stable", "breaks", "heals", "late", "new", "tls", "refused"], min_days=30)
    return db_url, run_a, run_b, urls


def test_runs_lists_every_run_newest_first(two_runs):
    db_url, run_a, run_b, _ = two_runs
    lines = healthcrawl("runs", "--db", db_url).splitlines()
    assert lines[0].split() == ["RUN", "CONFIG", "STARTED", "DURATION", "TARGETS", "OK", "FAILED", "STATE"]
    rows = [line.split() for line in lines[1:]]
    assert [row[0] for row in rows] == [run_b, run_a]
    assert rows[0][-4:] == ["7", "4", "3", "completed"]  # b: stable, heals, late, new ok
    assert rows[1][-4:] == ["7", "4", "3", "completed"]  # a: stable, breaks, gone, tls ok


def test_show_summarises_one_run(two_runs):
    db_url, _, run_b, urls = two_runs
    text = healthcrawl("show", run_b[:10], "--db", db_url)
    assert text.startswith(f"run {run_b} (completed)")
    assert "targets:  7   ok: 4   failed: 3" in text
    errors = text.split("errors by kind:")[1].split("failed checks:")[0]
    assert errors.split() == ["connect_refused", "1"]
    checks = text.split("failed checks:")[1].split("slowest targets:")[0]
    assert checks.split() == ["status", "1", "tls_expiry", "1"]
    assert urls["tls"] in text.split("certificates expiring soonest:")[1]


def test_diff_as_json_names_every_kind_of_change(two_runs):
    db_url, run_a, run_b, urls = two_runs
    diff = json.loads(healthcrawl("diff", run_a, run_b, "--db", db_url, "--format", "json"))
    targets = {section: sorted(item if isinstance(item, str) else item["target"] for item in diff[section])
               for section in diff if section not in ("a", "b")}
    assert diff["a"]["id"] == run_a and diff["b"]["id"] == run_b
    assert targets["newly_failing"] == sorted([urls["breaks"], urls["tls"]])
    assert targets["recovered"] == sorted([urls["heals"], urls["late"]])
    assert targets["status_changed"] == sorted([urls["breaks"], urls["heals"], urls["late"]])
    assert targets["error_kind_changed"] == [urls["late"]]
    assert targets["tls_expiry_crossed"] == [urls["tls"]]
    assert targets["only_in_a"] == [urls["gone"]] and targets["only_in_b"] == [urls["new"]]
    changed = {item["target"]: item for item in diff["status_changed"]}
    assert (changed[urls["breaks"]]["before"], changed[urls["breaks"]]["after"]) == (200, 500)
    late = diff["error_kind_changed"][0]
    assert (late["before"], late["after"]) == ("timeout", None)
    assert diff["newly_failing"][0]["after"] in ("failed status", "failed tls_expiry")


def test_diff_as_a_table_from_the_configs_database(two_runs, tmp_path):
    db_url, run_a, run_b, urls = two_runs
    config = tmp_path / "crawl.yaml"
    config.write_text(f'sources: [{{type: list, targets: [example.com]}}]\nsinks: [{{type: sqlalchemy, url: "{db_url}"}}]\n')
    text = healthcrawl("diff", run_a[:8], run_b[:8], "--config", str(config))
    assert "newly failing: 2" in text and "recovered: 2" in text and "only in a: 1" in text
    breaks = next(line for line in text.splitlines() if urls["breaks"] in line and "200" in line)
    assert breaks.split()[1:] == ["200", "500"]


def test_an_unknown_run_is_a_one_line_error(two_runs):
    proc = subprocess.run([sys.executable, "-m", "healthcrawl", "show", "nosuchrun", "--db", two_runs[0]],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr == "error: no run 'nosuchrun'\n"
