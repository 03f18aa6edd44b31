"""The request spec: crawl.request, overridden per source and per target, as loopback servers receive it."""

import base64
import sqlite3
import json

import pytest

from healthcrawl import ConfigError, build_config
from healthcrawl.testing.crawl import records_by_target, run_crawl
from healthcrawl.testing.servers import HTTPTestServer


def crawl(targets, request=None, checks=(), source=None, **settings):
    source = {"type": "list", "targets": list(targets), **(source or {})}
    crawl_section = {"timeout": 5, **settings, **({"request": request} if request is not None else {})}
    return run_crawl({"crawl": crawl_section, "sources": [source], "checks": list(checks)})


def test_post_with_a_json_body_and_headers():
    with HTTPTestServer() as server:
        crawl([server.url("/")], {"method": "post", "headers": {"X-Probe": "healthcrawl", "User-Agent": "probe/1"},
                                  "json": {"ping": [1, 2]}})
        received = server.requests[-1]
    assert received.method == "POST" and json.loads(received.body) == {"ping": [1, 2]}
    assert received.headers["Content-Type"] == "application/json"
    assert received.headers["X-Probe"] == "healthcrawl" and received.headers["User-Agent"] == "probe/1"


def test_head_reads_no_body_and_passes_the_status_check():
    with HTTPTestServer() as server:
        (record,) = crawl([server.url("/")], {"method": "HEAD"}, [{"type": "status", "expect": [200]}])
        assert server.requests[-1].method == "HEAD"
    assert record["ok"] is True and record["body_bytes"] == 0


def test_bearer_token_from_the_environment(monkeypatch):
    monkeypatch.setenv("PROBE_TOKEN", "tok-123")
    with HTTPTestServer() as server:
        crawl([server.url("/")], {"auth": {"type": "bearer", "token": "${PROBE_TOKEN}"}})
        assert server.last_headers["/"]["Authorization"] == "Bearer tok-123"


def test_basic_auth_from_config():
    with HTTPTestServer(basic_auth=("ops", "pw")) as server:
        (record,) = crawl([server.url("/")], {"auth": {"type": "basic", "username": "ops", "password": "pw"}},
                          [{"type": "status", "expect": [200]}])
    assert record["ok"] is True
    assert server.last_headers["/"]["Authorization"] == "Basic " + base64.b64encode(b"ops:pw").decode()


def test_without_following_redirects_the_first_response_is_judged():
    with HTTPTestServer() as server:
        server.route("/old", status=301, redirect_to="https://example.invalid/new")
        (record,) = crawl([server.url("/old")], {"follow_redirects": False}, [{"type": "status", "expect": [301]}])
    assert record["ok"] is True and record["status_code"] == 301 and record["redirects"] == 0
    assert record["final_url"] == server.url("/old")
    assert record["checks"][0]["detail"] == "status 301 to https://example.invalid/new"


def test_a_303_turns_a_post_into_a_get_without_body():
    with HTTPTestServer() as server:
        server.route("/form", status=303, redirect_to="/done")
        server.route("/done")
        crawl([server.url("/form")], {"method": "POST", "body": "a=1"})
        methods = [(r.method, r.path, r.body) for r in server.requests]
    assert methods == [("POST", "/form", b"a=1"), ("GET", "/done", b"")]


def test_a_source_overrides_the_crawl_request():
    with HTTPTestServer() as server:
        crawl([server.url("/")], {"method": "POST", "headers": {"X-A": "crawl", "X-B": "crawl"}},
              source={"request": {"method": "PUT", "headers": {"X-B": "source"}}})
        received = server.requests[-1]
    assert received.method == "PUT" and received.headers["X-A"] == "crawl" and received.headers["X-B"] == "source"


def test_csv_columns_override_per_target(tmp_path):
    with HTTPTestServer() as server:
        server.route("/a")
        server.route("/b")
        (tmp_path / "targets.csv").write_text(
            "target,method,headers,body\n"
            f"{server.url('/a')},POST,X-Row: one,hello\n"
            f"{server.url('/b')},,,\n"
            f'{server.url("/c")},GET,"{{""X-Bad"": ""x\\r\\nInjected: y""}}",\n'
        )
        records = run_crawl({"crawl": {"timeout": 5, "request": {"method": "OPTIONS"}},
                             "sources": [{"type": "csv", "path": "targets.csv"}], "checks": []}, base_dir=tmp_path)
        seen = {(r.path, r.method, r.body, r.headers.get("X-Row")) for r in server.requests}
    assert seen == {("/a", "POST", b"hello", "one"), ("/b", "OPTIONS", b"", None)}
    bad = records_by_target(records)[server.url("/c")]
    assert bad["error_kind"] == "invalid_target"
    assert bad["error"] == "request field headers: header X-Bad: the value contains a line break (CR or LF)"


@pytest.mark.parametrize(
    "request_section, problem",
    [
        ({"headers": {"X-A": "one\r\nX-Injected: two"}}, "crawl.request.headers: header X-A: the value contains a line break (CR or LF)"),
        ({"headers": {"Bad Name": "x"}}, "crawl.request.headers: 'Bad Name' is not a valid header name"),
        ({"method": "FETCH"}, "crawl.request.method: must be one of: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
        ({"body": "x", "json": {}}, "crawl.request.json: give body or json, not both"),
        ({"auth": {"type": "bearer"}}, "crawl.request.auth.token: bearer auth needs a token"),
        ({"client_cert": "/nonexistent.pem"}, "crawl.request.client_cert: cannot load the client certificate"),
    ],
)
def test_bad_request_settings_are_config_errors(request_section, problem):
    config = {"crawl": {"request": request_section}, "sources": [{"type": "list", "targets": ["example.com"]}]}
    with pytest.raises(ConfigError) as raised:
        build_config(config)
    assert len(raised.value.problems) == 1 and raised.value.problems[0].startswith(problem)


def test_a_client_certificate_opens_a_server_that_requires_one(healthcrawl_ca, tmp_path):
    cert = healthcrawl_ca.client_certificate_path()
    with HTTPTestServer(tls=True, ca=healthcrawl_ca, client_ca=healthcrawl_ca) as server:
        url = server.url("/", host="localhost")
        with_cert, = crawl([url], {"client_cert": cert}, [{"type": "status"}], verify=healthcrawl_ca.ca_bundle_path)
        without, = crawl([url], {}, [{"type": "status"}], verify=healthcrawl_ca.ca_bundle_path)
    assert with_cert["ok"] is True and with_cert["tls"]["verified"] is True
    assert without["error_kind"] == "tls_error"


def test_sql_columns_and_the_sql_source_request_override(tmp_path):
    with HTTPTestServer() as server:
        server.route("/a")
        with sqlite3.connect(tmp_path / "targets.db") as db:
            db.execute("CREATE TABLE targets (id INTEGER PRIMARY KEY, target TEXT, method TEXT)")
            db.executemany("INSERT INTO targets (target, method) VALUES (?, ?)",
                           [(server.url("/a"), "PUT"), (server.url("/"), None)])
        run_crawl({"crawl": {"timeout": 5}, "checks": [], "sources": [
            {"type": "sql", "url": f"sqlite:///{tmp_path}/targets.db", "table": "targets",
             "request": {"method": "POST", "headers": {"X-Source": "sql"}}}]})
        seen = {(r.path, r.method, r.headers.get("X-Source")) for r in server.requests}
    assert seen == {("/a", "PUT", "sql"), ("/", "POST", "sql")}
