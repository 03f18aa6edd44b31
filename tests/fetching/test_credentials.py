"""Credentials in a target URL are sent as basic auth, shown masked everywhere, never carried to another host."""

import base64
import json
import sqlite3

from healthcrawl import parse_target
from healthcrawl.testing.crawl import run_crawl
from healthcrawl.testing.servers import HTTPTestServer, RawTCPServer

PASSWORD = "s3cr3t-Pa55"


def authorization(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def test_parse_target_masks_the_password_and_keeps_it_as_basic_auth():
    target = parse_target(f"https://alice:{PASSWORD}@example.com/x")
    assert target.url == "https://alice:***@example.com/x"
    assert target.request == {"auth": ("basic", "alice", PASSWORD)}
    assert PASSWORD not in repr(target)


def test_percent_encoded_credentials_are_decoded_for_the_header():
    target = parse_target("http://al%40ice:p%3Ass@example.com/")
    assert target.request["auth"] == ("basic", "al@ice", "p:ss")
    assert target.url == "http://al%40ice:***@example.com/"


def test_an_invalid_target_line_is_masked_too():
    target = parse_target(f"ftp://alice:{PASSWORD}@example.com/")
    assert target.invalid and PASSWORD not in target.url and PASSWORD not in target.invalid


def test_the_password_reaches_the_server_and_no_output(tmp_path, healthcrawl_cli):
    with HTTPTestServer(basic_auth=("alice", PASSWORD)) as server, RawTCPServer("reset") as broken:
        server.route("/wrong")
        good = server.url("/").replace("http://", f"http://alice:{PASSWORD}@")
        wrong = server.url("/wrong").replace("http://", "http://alice:wrong@")
        failing = broken.url("/").replace("http://", f"http://alice:{PASSWORD}@")
        config = tmp_path / "crawl.yaml"
        config.write_text(json.dumps({
            "crawl": {"timeout": 5, "workers": 1},
            "sources": [{"type": "list", "targets": [good, wrong, failing, f"ftp://bob:{PASSWORD}@x/"]}],
            "checks": [{"type": "status", "expect": [200]}],
            "sinks": [
                {"type": "jsonl", "path": str(tmp_path / "results.jsonl")},
                {"type": "sqlalchemy", "url": f"sqlite:///{tmp_path}/results.db"},
            ],
        }))
        proc = healthcrawl_cli("run", config, cwd=tmp_path)
        assert server.last_headers["/"]["Authorization"] == authorization("alice", PASSWORD)
    assert proc.exit_code == 0, proc.stderr
    records = {r["target"]: r for r in map(json.loads, (tmp_path / "results.jsonl").read_text().splitlines())}
    masked = server.url("/").replace("http://", "http://alice:***@")
    assert records[masked]["ok"] is True and records[masked]["final_url"] == masked
    assert records[server.url("/wrong").replace("http://", "http://alice:***@")]["status_code"] == 401
    run_id = records[masked]["run_id"]
    shown = healthcrawl_cli("show", run_id, "--config", config, cwd=tmp_path)
    assert shown.exit_code == 0, shown.stderr
    with sqlite3.connect(tmp_path / "results.db") as db:
        dump = "\n".join(db.iterdump())
    for text in ((tmp_path / "results.jsonl").read_text(), dump, proc.stdout, proc.stderr, shown.stdout, shown.stderr):
        assert PASSWORD not in text
    assert "alice:***@" in dump


def test_credentials_stay_on_their_host_through_redirects():
    with HTTPTestServer() as first, HTTPTestServer() as other:
        first.route("/same", redirect_to="/landing")
        first.route("/landing")
        first.route("/away", redirect_to=other.url("/landing"))
        other.route("/landing")
        targets = [first.url(path).replace("http://", f"http://alice:{PASSWORD}@") for path in ("/same", "/away")]
        records = run_crawl({"crawl": {"timeout": 5}, "sources": [{"type": "list", "targets": targets}], "checks": []})
        assert first.last_headers["/landing"]["Authorization"] == authorization("alice", PASSWORD)
        assert "Authorization" not in other.last_headers["/landing"]
    final_urls = sorted(r["final_url"] for r in records)
    assert final_urls == sorted([first.url("/landing").replace("http://", "http://alice:***@"), other.url("/landing")])


def test_configured_secrets_are_masked_in_the_stored_run_settings(tmp_path, healthcrawl_cli):
    with HTTPTestServer(basic_auth=("alice", PASSWORD)) as server:
        config = tmp_path / "crawl.yaml"
        config.write_text(json.dumps({
            "crawl": {"timeout": 5, "workers": 1, "request": {
                "method": "POST", "json": {"probe": True}, "headers": {"X-Api-Key": "k"},
                "auth": {"type": "basic", "username": "alice", "password": "${PROBE_PASSWORD}"}}},
            "sources": [{"type": "list", "targets": [server.url("/")]}],
            "checks": [{"type": "status", "expect": [200]}],
            "sinks": [{"type": "sqlalchemy", "url": f"sqlite:///{tmp_path}/results.db"}],
        }))
        proc = healthcrawl_cli("run", config, cwd=tmp_path, env={"PROBE_PASSWORD": PASSWORD})
    assert proc.exit_code == 0, proc.stderr
    with sqlite3.connect(tmp_path / "results.db") as db:
        (settings,) = db.execute("SELECT settings FROM runs").fetchone()
        (ok,) = db.execute("SELECT ok FROM results").fetchone()
    request = json.loads(settings)["request"]
    assert ok and PASSWORD not in settings
    assert request["auth"] == {"type": "basic", "username": "alice", "password": "***"}
    assert request["method"] == "POST" and request["body"] == '{"probe": true}'
