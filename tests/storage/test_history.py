"""The run history commands on a real database: runs, show and diff as tables and as JSON, run ids
``latest`` and ``previous``, ``diff --exit-code``, and finding (never creating) the database.

The commands run in this process through the ``healthcrawl_cli`` fixture.
"""

import json
import sqlite3
import textwrap

import pytest

from healthcrawl.testing.certs import CertAuthority
from healthcrawl.testing.crawl import run_crawl_outcome
from healthcrawl.testing.servers import HTTPTestServer, free_port


@pytest.fixture
def healthcrawl(healthcrawl_cli):
    """``healthcrawl(*args)``: the command's output, after checking that it exited 0."""

    def run(*args, **kwargs):
        proc = healthcrawl_cli(*args, **kwargs)
        assert proc.exit_code == 0, proc.stderr
        return proc.stdout

    return run


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


def test_runs_lists_every_run_newest_first(two_runs, healthcrawl):
    db_url, run_a, run_b, _ = two_runs
    lines = healthcrawl("runs", "--db", db_url).splitlines()
    assert lines[0].split() == ["RUN", "CONFIG", "STARTED", "DURATION", "TARGETS", "OK", "FAILED", "STATE"]
    rows = [line.split() for line in lines[1:]]
    assert [row[0] for row in rows] == [run_b, run_a]
    assert rows[0][-4:] == ["7", "4", "3", "completed"]  # b: stable, heals, late, new ok
    assert rows[1][-4:] == ["7", "4", "3", "completed"]  # a: stable, breaks, gone, tls ok


def test_runs_as_json(two_runs, healthcrawl):
    db_url, run_a, run_b, _ = two_runs
    runs = json.loads(healthcrawl("runs", "--db", db_url, "--format", "json"))
    assert [run["id"] for run in runs] == [run_b, run_a]
    assert {key: runs[0][key] for key in ("targets", "ok", "failed", "state")} == {
        "targets": 7, "ok": 4, "failed": 3, "state": "completed"}


def test_show_lists_the_failing_targets_by_error_kind_and_by_failed_check(two_runs, healthcrawl):
    db_url, _, run_b, urls = two_runs
    text = healthcrawl("show", run_b[:10], "--db", db_url)
    assert text.startswith(f"run {run_b} (completed)")
    # The counts are targets: breaks failed a check (status), tls failed one (tls_expiry), refused errored.
    assert "targets:  7   ok: 4   failed a check: 2   errors: 1" in text
    errors = text.split("errors by kind (targets):\n")[1].split("failed checks")[0].splitlines()
    assert errors[0].split() == ["connect_refused", "1"]
    assert errors[1].split()[0] == urls["refused"] and "refused" in errors[1]
    checks = text.split("failed checks (a target may fail several):\n")[1].split("slowest targets:")[0].splitlines()
    assert [line.split()[:2] for line in checks] == [["status", "1"], [urls["breaks"], "status"],
                                                    ["tls_expiry", "1"], [urls["tls"], "certificate"]]
    assert "status 500" in checks[1]
    assert urls["tls"] in text.split("certificates expiring soonest:")[1]


def test_show_limits_the_targets_it_lists_and_says_how_many_more(tmp_path, healthcrawl):
    db_url = f"sqlite:///{tmp_path}/limit.db"
    refused = [f"http://127.0.0.1:{free_port()}/{n}" for n in range(5)]
    run_crawl_outcome({"sources": [{"type": "list", "targets": refused}], "checks": [],
                       "sinks": [{"type": "sqlalchemy", "url": db_url}]})
    text = healthcrawl("show", "--db", db_url, "--limit", "2")  # the latest run by default
    group = text.split("errors by kind (targets):\n")[1].splitlines()
    assert group[0].split() == ["connect_refused", "5"]
    assert [line.split()[0] for line in group[1:3]] == refused[:2]  # in source order
    assert group[3].strip() == "... and 3 more (--limit N lists more)"
    data = json.loads(healthcrawl("show", "latest", "--db", db_url, "--limit", "2", "--format", "json"))
    assert data["errors"] == 5 and data["failed_a_check"] == 0
    (kind,) = data["by_error_kind"]
    assert kind["name"] == "connect_refused" and kind["targets"] == 5
    assert [item["target"] for item in kind["first"]] == refused[:2]


def test_latest_and_previous_stand_for_run_ids(two_runs, healthcrawl, healthcrawl_cli):
    db_url, run_a, run_b, _ = two_runs
    assert healthcrawl("show", "latest", "--db", db_url).startswith(f"run {run_b} ")
    assert healthcrawl("show", "previous", "--db", db_url).startswith(f"run {run_a} ")
    diff = json.loads(healthcrawl("diff", "latest", "previous", "--db", db_url, "--format", "json"))
    assert (diff["a"]["id"], diff["b"]["id"]) == (run_b, run_a)


def test_previous_of_a_database_with_one_run_is_a_one_line_error(tmp_path, healthcrawl_cli):
    db_url = f"sqlite:///{tmp_path}/one.db"
    run_crawl_outcome({"sources": [{"type": "list", "targets": ["invalid target"]}],
                       "sinks": [{"type": "sqlalchemy", "url": db_url}]})
    proc = healthcrawl_cli("diff", "--db", db_url)
    assert proc.exit_code == 1
    assert proc.stderr == "error: no previous run: the database holds 1 run\n"


def test_diff_without_run_ids_compares_the_latest_two(two_runs, healthcrawl):
    db_url, run_a, run_b, _ = two_runs
    diff = json.loads(healthcrawl("diff", "--db", db_url, "--format", "json"))
    assert (diff["a"]["id"], diff["b"]["id"]) == (run_a, run_b)


def test_diff_exit_code_says_whether_a_target_newly_fails(two_runs, healthcrawl_cli):
    db_url, run_a, run_b, _ = two_runs
    worse = healthcrawl_cli("diff", run_a, run_b, "--db", db_url, "--exit-code")
    assert worse.exit_code == 1 and "newly failing: 2" in worse.stdout
    better = healthcrawl_cli("diff", run_b, run_b, "--db", db_url, "--exit-code")
    assert better.exit_code == 0 and "newly failing: 0" in better.stdout
    assert healthcrawl_cli("diff", run_a, run_b, "--db", db_url).exit_code == 0  # without --exit-code


def test_diff_as_json_names_every_kind_of_change(two_runs, healthcrawl):
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


def test_diff_as_a_table_from_the_configs_database(two_runs, tmp_path, healthcrawl):
    db_url, run_a, run_b, urls = two_runs
    config = tmp_path / "crawl.yaml"
    config.write_text(f'sources: [{{type: list, targets: [example.com]}}]\nsinks: [{{type: sqlalchemy, url: "{db_url}"}}]\n')
    text = healthcrawl("diff", run_a[:8], run_b[:8], "--config", str(config))
    assert "newly failing: 2" in text and "recovered: 2" in text and "only in a: 1" in text
    breaks = next(line for line in text.splitlines() if urls["breaks"] in line and "200" in line)
    assert breaks.split()[1:] == ["200", "500"]


def test_an_unknown_run_is_a_one_line_error(two_runs, healthcrawl_cli):
    proc = healthcrawl_cli("show", "nosuchrun", "--db", two_runs[0])
    assert proc.exit_code == 1 and proc.stderr == "error: no run 'nosuchrun'\n"


@pytest.mark.parametrize("command", ["runs", "show", "diff"])
def test_a_history_command_where_there_is_no_database_says_so_and_creates_none(command, tmp_path, healthcrawl_cli):
    proc = healthcrawl_cli(command, cwd=tmp_path)
    assert proc.exit_code == 1
    assert proc.stderr.startswith(f"error: no database at healthcrawl.db: no crawl has stored results there")
    assert len(proc.stderr.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_the_configs_relative_database_is_found_from_any_folder(tmp_path, healthcrawl_cli):
    """A relative sqlite:/// URL and jsonl path are relative to the config's folder, for run and for the history
    commands alike, wherever they are started from."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    with HTTPTestServer() as server:
        server.route("/up")
        config = project / "crawl.yaml"
        config.write_text(textwrap.dedent(f"""
            crawl: {{workers: 1}}
            sources: [{{type: list, targets: ["{server.url('/up')}"]}}]
            sinks:
              - {{type: sqlalchemy, url: "sqlite:///results.db", spool_dir: spool}}
              - {{type: jsonl, path: results.jsonl}}
        """))
        proc = healthcrawl_cli("run", "../project/crawl.yaml", cwd=elsewhere)
    assert proc.exit_code == 0, proc.stderr
    assert sorted(p.name for p in project.iterdir()) == ["crawl.yaml", "results.db", "results.jsonl"]
    assert list(elsewhere.iterdir()) == []
    with sqlite3.connect(project / "results.db") as db:
        (run_id,) = db.execute("SELECT id FROM runs").fetchone()
    for folder in (elsewhere, project, tmp_path):
        listed = healthcrawl_cli("runs", "--config", config, cwd=folder)
        assert listed.exit_code == 0 and run_id in listed.stdout, listed.stderr
    assert healthcrawl_cli("show", "--config", config, cwd=elsewhere).stdout.startswith(f"run {run_id} ")
    resumed = healthcrawl_cli("run", "--resume", "latest", "../project/crawl.yaml", cwd=elsewhere)
    assert (resumed.exit_code, resumed.stderr) == (1, f"error: run {run_id} completed: there is nothing to resume\n")
    assert list(elsewhere.iterdir()) == []
