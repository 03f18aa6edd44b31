"""The packaged example crawls: listed, copied, validated, and every offline one run end to end."""

import json
import os
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from healthcrawl.cli.example_crawls import fill_placeholders, get_example, list_examples

EXAMPLES = {example.name: example for example in list_examples()}
NEEDS_A_DATABASE_SERVER = {"postgresql"}
OFFLINE = [name for name, ex in EXAMPLES.items() if ex.needs_demo_servers and name not in NEEDS_A_DATABASE_SERVER]


@pytest.fixture(scope="module")
def example_runs():
    """The examples this module ran: name -> (CommandResult, folder)."""
    return {}


@pytest.fixture
def run_example(example_runs, tmp_path_factory, healthcrawl_cli):
    """Run a packaged example (once per module) in a fresh folder; returns the command's result and the folder."""

    def run(name):
        if name not in example_runs:
            folder = tmp_path_factory.mktemp(name)
            example_runs[name] = healthcrawl_cli("examples", "run", name, cwd=folder), folder
        return example_runs[name]

    return run


def query(db_path, sql):
    with sqlite3.connect(db_path) as db:
        return db.execute(sql).fetchall()


def test_the_issue_s_examples_are_packaged():
    assert {"offline-demo", "top-sites", "tls-expiry-audit", "internal-services", "postgresql"} <= set(EXAMPLES)
    for example in EXAMPLES.values():
        assert example.description, f"{example.name}: README.md needs a one-line description"
        targets_files = [p for p in example.path.iterdir() if p.suffix in (".txt", ".csv")]
        assert targets_files, f"{example.name}: no targets file next to its crawl.yaml"


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_every_example_config_validates(name, healthcrawl_cli):
    proc = healthcrawl_cli("validate", str(EXAMPLES[name].config_path))
    assert proc.exit_code == 0, proc.stderr
    assert ": ok (" in proc.stdout


def test_examples_lists_each_with_its_description(healthcrawl_cli):
    proc = healthcrawl_cli("examples")
    assert proc.exit_code == 0, proc.stderr
    for example in EXAMPLES.values():
        assert f"{example.name}  " in proc.stdout and example.description in proc.stdout


@pytest.mark.parametrize("name", OFFLINE)
def test_every_offline_example_runs_end_to_end(name, run_example):
    proc, tmp_path = run_example(name)
    assert proc.exit_code == 0, proc.stderr
    assert "completed" in proc.stdout.splitlines()[0] and "targets: " in proc.stdout
    assert "internal_error" not in proc.stdout and "${" not in proc.stdout
    outputs = [p.name for p in tmp_path.iterdir()]
    assert outputs, "an example stores its results in the folder it runs from"


def test_offline_demo_shows_healthy_and_broken_servers(run_example):
    proc, tmp_path = run_example("offline-demo")
    assert proc.exit_code == 0, proc.stderr
    assert "targets: 7   ok: 3   failed a check: 1   errors: 3" in proc.stdout
    db = tmp_path / "offline-demo.db"
    rows = query(db, "SELECT target, ok, error_kind, status_code, redirects, tls_verified, tls_days_left FROM results")
    http = {target.rsplit("/", 1)[1]: row for target, *row in rows if target.startswith("http://")}
    https = {row[1] or "ok": row for target, *row in rows if target.startswith("https://")}
    assert http["health"][:5] == [1, None, 200, 0, None] and http["old-health"][:5] == [1, None, 200, 1, None]
    assert http["broken"][:5] == [0, None, 500, 0, None]
    assert http["slow"][:2] == [0, "timeout"]
    assert https["ok"][:5] == [1, None, 200, 0, 1], "the healthy HTTPS server's certificate is trusted"
    assert https["tls_error"][4] == 0 and https["tls_error"][5] < 0, "the expired certificate's expiry is recorded"
    assert http[""][:2] == [0, "connect_refused"]
    assert sorted(kind for _, _, kind, *_ in rows if kind) == ["connect_refused", "timeout", "tls_error"]
    failed_body = query(db, "SELECT r.target FROM results r JOIN check_outcomes c ON c.run_id = r.run_id AND c.seq = r.seq "
                            "WHERE c.name = 'body_match' AND NOT c.ok")
    assert [target for (target,) in failed_body] == [k for k, *_ in rows if k.endswith("/broken")]


def test_copy_makes_an_editable_folder_that_runs(tmp_path, healthcrawl_cli):
    proc = healthcrawl_cli("examples", "copy", "offline-demo", "my-demo", cwd=tmp_path)
    assert proc.exit_code == 0, proc.stderr
    copied = tmp_path / "my-demo"
    assert {"crawl.yaml", "targets.txt", "README.md", "demo_servers.py"} <= {p.name for p in copied.iterdir()}
    (copied / "targets.txt").write_text("${DEMO_HTTP}/health\n${DEMO_HTTP}/broken\n")
    proc = healthcrawl_cli("examples", "run", "my-demo", cwd=tmp_path)
    assert proc.exit_code == 0, proc.stderr
    assert "targets: 2   ok: 1   failed a check: 1   errors: 0" in proc.stdout
    assert (copied / "targets.txt").read_text().startswith("${DEMO_HTTP}"), "running a copy leaves it as it was"


def test_copy_refuses_to_overwrite(tmp_path, healthcrawl_cli):
    (tmp_path / "top-sites").mkdir()
    proc = healthcrawl_cli("examples", "copy", "top-sites", cwd=tmp_path)
    assert proc.exit_code == 2
    assert proc.stderr.startswith("error: top-sites already exists") and "Traceback" not in proc.stderr


def test_unknown_example_is_a_usage_error_naming_the_known_ones(tmp_path, healthcrawl_cli):
    proc = healthcrawl_cli("examples", "run", "no-such-example", cwd=tmp_path)
    assert proc.exit_code == 2
    assert "no example called 'no-such-example'" in proc.stderr and "offline-demo" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_placeholders_are_filled_and_unknown_ones_kept():
    text = "${DEMO_HTTP}/a\n${HOME_NOT_A_DEMO}/b\n"
    assert fill_placeholders(text, {"DEMO_HTTP": "http://127.0.0.1:1"}) == "http://127.0.0.1:1/a\n${HOME_NOT_A_DEMO}/b\n"


def test_get_example_finds_packaged_ones_by_name():
    assert get_example("offline-demo").config_path.is_file()


def test_tls_expiry_audit_reports_certificates_expiring_within_30_days(run_example):
    proc, tmp_path = run_example("tls-expiry-audit")
    assert proc.exit_code == 0, proc.stderr
    assert "targets: 5   ok: 2   failed a check: 2   errors: 1" in proc.stdout
    records = [json.loads(line) for line in (tmp_path / "tls-expiry-audit.jsonl").read_text().splitlines()]
    verdicts = sorted((r["tls"]["days_left"], r["checks"][0]["ok"]) for r in records)
    assert [ok for _, ok in verdicts] == [False, False, False, True, True]
    assert [days for days, ok in verdicts if not ok][-1] < 30 <= [days for days, ok in verdicts if ok][0]
    expired = [r for r in records if r["error_kind"]]
    assert [(r["error_kind"], r["tls"]["verified"]) for r in expired] == [("tls_error", False)]
    report = query(tmp_path / "tls-expiry-audit.db",
                   "SELECT r.tls_days_left FROM results r JOIN check_outcomes c ON c.run_id = r.run_id AND c.seq = r.seq "
                   "WHERE c.name = 'tls_expiry' AND NOT c.ok ORDER BY r.tls_days_left")
    assert [days for (days,) in report] == [days for days, ok in verdicts if not ok]


def test_postgresql_example_stores_its_results_in_postgresql(isolated_database, tmp_path, healthcrawl_cli):
    postgres_url = isolated_database("postgresql")
    engine = database_engine(postgres_url)
    proc = healthcrawl_cli("examples", "run", "postgresql", cwd=tmp_path,
                           env={"HEALTHCRAWL_POSTGRES_URL": postgres_url})
    assert proc.exit_code == 0, proc.stderr
    assert "targets: 3   ok: 1   failed a check: 2   errors: 0" in proc.stdout
    run_id = proc.stdout.split()[1]
    with engine.connect() as db:
        state = db.execute(text("SELECT state, targets, ok FROM runs WHERE id = :id"), {"id": run_id}).one()
        failed = db.execute(text(
            "SELECT r.status_code FROM results r JOIN check_outcomes c ON c.run_id = r.run_id AND c.seq = r.seq "
            "WHERE r.run_id = :id AND c.name = 'status' AND NOT c.ok ORDER BY r.status_code"), {"id": run_id}).all()
    engine.dispose()
    assert tuple(state) == ("completed", 3, 1)
    assert [code for (code,) in failed] == [404, 503]
    assert list(tmp_path.iterdir()) == [], "nothing is written to the current folder"


def database_engine(url):
    """An engine for ``url``; a missing driver skips (or fails under HEALTHCRAWL_REQUIRE_SERVICES=1)."""
    try:
        return create_engine(url)
    except ModuleNotFoundError as error:
        message = f"the PostgreSQL driver {error.name!r} is not installed (pip install 'healthcrawl[postgres]')"
        if os.environ.get("HEALTHCRAWL_REQUIRE_SERVICES") == "1":
            pytest.fail(message)
        pytest.skip(message)


def test_the_examples_page_documents_every_example():
    page = (Path(__file__).resolve().parents[2] / "docs" / "examples.md").read_text()
    for name in EXAMPLES:
        assert f"| `{name}` |" in page, f"docs/examples.md has no row for {name}"


def test_an_example_without_demo_servers_runs_in_place_from_a_copy(tmp_path, http_server, healthcrawl_cli):
    assert healthcrawl_cli("examples", "copy", "top-sites", "my-sites", cwd=tmp_path).exit_code == 0
    (tmp_path / "my-sites" / "targets.txt").write_text(f"{http_server.url('/')}\n{http_server.url('/gone')}\n")
    proc = healthcrawl_cli("examples", "run", "my-sites", cwd=tmp_path)
    assert proc.exit_code == 0, proc.stderr
    assert "targets: 2   ok: 1   failed a check: 1   errors: 0" in proc.stdout
    assert len((tmp_path / "top-sites.jsonl").read_text().splitlines()) == 2


def test_internal_services_judge_each_service_by_its_own_row(run_example):
    proc, tmp_path = run_example("internal-services")
    assert proc.exit_code == 0, proc.stderr
    assert "targets: 5   ok: 3   failed a check: 2   errors: 0" in proc.stdout
    failed = query(tmp_path / "internal-services.db",
                   "SELECT r.target, r.status_code, c.name FROM results r "
                   "JOIN check_outcomes c ON c.run_id = r.run_id AND c.seq = r.seq WHERE NOT c.ok ORDER BY c.name")
    assert [(target.rsplit("/", 1)[1], code, check) for target, code, check in failed] == [
        ("status", 200, "body_match"),  # search answers "degraded" where its row expects "status": "ok"
        ("healthz", 503, "status"),     # billing has no expect_status: the crawl-wide 200-399 applies
    ]
    passed = query(tmp_path / "internal-services.db", "SELECT target, status_code FROM results WHERE ok")
    assert sorted(code for _, code in passed) == [200, 200, 401], "auth's 401 is healthy by its row"
