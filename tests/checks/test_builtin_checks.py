"""The response_time, header, json, redirect and tls checks, each against real loopback servers."""

import json

import pytest

from healthcrawl import ConfigError, build_config
from healthcrawl.testing.crawl import run_crawl
from healthcrawl.testing.servers import HTTPTestServer


def judge(url, check, request=None, **settings):
    """Crawl ``url`` with one check and return ``(record, outcome)``; the outcome is None when the check did not apply."""
    crawl = {"timeout": 5, **settings, **({"request": request} if request else {})}
    (record,) = run_crawl({"crawl": crawl, "sources": [{"type": "list", "targets": [url]}], "checks": [check]})
    return record, (record["checks"][0] if record["checks"] else None)


@pytest.fixture
def server():
    with HTTPTestServer() as server:
        yield server


# response_time

def test_response_time_passes_a_fast_answer(server):
    record, outcome = judge(server.url("/"), {"type": "response_time", "max_ms": 10_000})
    assert outcome["ok"] is True and outcome["detail"].startswith("total ")


def test_response_time_fails_a_slow_time_to_first_byte(server):
    server.route("/slow", delay=0.3)
    record, outcome = judge(server.url("/slow"), {"type": "response_time", "phase": "ttfb", "max_ms": 50})
    assert outcome["ok"] is False and "more than 50 ms" in outcome["detail"]
    assert record["timings"]["ttfb_ms"] >= 300


def test_response_time_passes_a_phase_that_did_not_happen(server):
    record, outcome = judge(server.url("/"), {"type": "response_time", "phase": "tls", "max_ms": 1})
    assert outcome == {"name": "response_time", "ok": True, "detail": "no tls phase"}


# header

@pytest.mark.parametrize(
    "check, ok",
    [
        ({"header": "x-frame-options"}, True),
        ({"header": "X-Frame-Options", "equals": "DENY"}, True),
        ({"header": "X-Frame-Options", "equals": "SAMEORIGIN"}, False),
        ({"header": "Server", "matches": "^nginx/1\\.(2[0-9])"}, True),
        ({"header": "Server", "matches": "apache", "negate": True}, True),
        ({"header": "Server", "matches": "nginx", "negate": True}, False),
        ({"header": "X-Powered-By", "absent": True}, True),
        ({"header": "X-Powered-By"}, False),
    ],
)
def test_header_conditions(server, check, ok):
    server.route("/", headers={"X-Frame-Options": "DENY", "Server": "nginx/1.25.3"})
    record, outcome = judge(server.url("/"), {"type": "header", **check})
    assert outcome["ok"] is ok, outcome["detail"]


def test_header_takes_one_condition():
    config = {"sources": [{"type": "list", "targets": ["example.com"]}],
              "checks": [{"type": "header", "header": "A", "equals": "x", "matches": "y"}]}
    with pytest.raises(ConfigError) as raised:
        build_config(config)
    assert raised.value.problems == ["checks[0]: give at most one of equals, matches, absent (got equals, matches)"]


# json

HEALTH = {"status": "UP", "checks": [{"name": "db", "latency_ms": 12.5}], "version": "2.1.0", "ready": True}


@pytest.mark.parametrize(
    "condition, ok",
    [
        ({"path": "status", "equals": "UP"}, True),
        ({"path": "/status", "equals": "DOWN"}, False),
        ({"path": "checks[0].latency_ms", "lt": 100}, True),
        ({"path": "checks.0.latency_ms", "ge": 20}, False),
        ({"path": "/checks/0/name", "matches": "^d"}, True),
        ({"path": "version", "matches": "^3\\."}, False),
        ({"path": "ready", "equals": True}, True),
        ({"path": "ready", "equals": 1}, False),
        ({"path": "checks[1]", "exists": False}, True),
        ({"path": "checks[0]"}, True),
        ({"path": "missing.key"}, False),
        ({"path": "status", "gt": 1}, False),
    ],
)
def test_json_conditions(server, condition, ok):
    server.route("/health", body=json.dumps(HEALTH), headers={"Content-Type": "application/json"})
    record, outcome = judge(server.url("/health"), {"type": "json", **condition})
    assert outcome["ok"] is ok, outcome["detail"]


def test_json_fails_a_body_that_is_not_json(server):
    server.route("/", body="<html>maintenance</html>")
    record, outcome = judge(server.url("/"), {"type": "json", "path": "status"})
    assert outcome["ok"] is False and outcome["detail"].startswith("the body is not JSON: ")


def test_json_does_not_parse_a_truncated_body(server):
    server.route("/", body=json.dumps({"pad": "x" * 500}))
    record, outcome = judge(server.url("/"), {"type": "json", "path": "pad"}, max_body_bytes=100)
    assert outcome["ok"] is False and "crawl.max_body_bytes" in outcome["detail"]


# redirect

def test_redirect_to_https_seen_without_following(server):
    server.route("/", status=301, redirect_to="https://example.com/")
    record, outcome = judge(server.url("/"), {"type": "redirect", "status": [301, 308], "to_https": True,
                                              "host": "Example.com"}, {"follow_redirects": False})
    assert outcome == {"name": "redirect", "ok": True, "detail": "301 to https://example.com/"}


def test_redirect_fails_a_wrong_status_and_scheme(server):
    server.route("/", status=302, redirect_to="/plain")
    record, outcome = judge(server.url("/"), {"type": "redirect", "status": [301], "to_https": True},
                            {"follow_redirects": False})
    assert outcome["ok"] is False
    assert outcome["detail"] == f"302 to {server.url('/plain')}, status 302, expected 301; expected an https URL"


def test_redirect_judges_where_a_followed_chain_ended(server):
    server.route("/", redirect_to="/landing")
    server.route("/landing")
    record, outcome = judge(server.url("/"), {"type": "redirect", "to": server.url("/landing")})
    assert outcome["ok"] is True and record["redirects"] == 1


def test_no_redirect_fails(server):
    record, outcome = judge(server.url("/"), {"type": "redirect"})
    assert outcome == {"name": "redirect", "ok": False, "detail": "no redirect (status 200)"}


# tls

def test_tls_required_fails_plain_http_and_not_required_passes_it(server):
    assert judge(server.url("/"), {"type": "tls"})[1]["ok"] is False
    assert judge(server.url("/"), {"type": "tls", "required": False})[1] == {
        "name": "tls", "ok": True, "detail": "plain HTTP"}


def test_tls_version_hostname_and_days(healthcrawl_ca):
    with HTTPTestServer(tls=True, ca=healthcrawl_ca, days_left=20) as server:
        url = server.url("/", host="localhost")
        bundle = healthcrawl_ca.ca_bundle_path
        ok = judge(url, {"type": "tls", "min_version": "TLSv1.2", "match_hostname": True, "min_days": 14}, verify=bundle)[1]
        short = judge(url, {"type": "tls", "min_days": 30}, verify=bundle)[1]
        not_required = judge(url, {"type": "tls", "required": False}, verify=bundle)[1]
    assert ok["ok"] is True, ok["detail"]
    assert ok["detail"] in ("TLSv1.3, certificate expires in 19 days", "TLSv1.2, certificate expires in 19 days")
    assert short["ok"] is False and "fewer than 30" in short["detail"]
    assert not_required["ok"] is False and not_required["detail"].startswith("served over TLSv1")


def test_tls_checks_the_hostname_even_without_verification(healthcrawl_ca):
    with HTTPTestServer(tls=True, ca=healthcrawl_ca, tls_kind="wrong_host") as server:
        record, outcome = judge(server.url("/", host="localhost"), {"type": "tls", "match_hostname": True},
                                verify=False)
    assert record["error_kind"] is None and record["tls"]["verified"] is False
    assert outcome["ok"] is False
    assert outcome["detail"].endswith("the certificate does not name localhost (names: wrong.example)")


def test_tls_expiry_keeps_working_next_to_tls(healthcrawl_ca):
    with HTTPTestServer(tls=True, ca=healthcrawl_ca, days_left=5) as server:
        record, outcome = judge(server.url("/", host="localhost"), {"type": "tls_expiry", "min_days": 14},
                                verify=healthcrawl_ca.ca_bundle_path)
    assert outcome["name"] == "tls_expiry" and outcome["ok"] is False
