"""Every row of the "coming from blackbox_exporter, Gatus or EaseProbe" table, as a crawl against loopback servers.

Each case is the healthcrawl config the table names for a peer option, a server that
behaves one way, and whether the target must pass (``ok``) for it.
"""

import base64
import json
import re
from pathlib import Path

import pytest

from healthcrawl.testing.crawl import run_crawl
from healthcrawl.testing.servers import HTTPTestServer

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "requests-and-checks.md").read_text()


def table_rows():
    section = PAGE.split("## Coming from blackbox_exporter, Gatus or EaseProbe\n", 1)[1]
    return [row for row in re.findall(r"^\| (.+?) \| ", section, re.M) if row not in ("their option", "---")]


def crawl_one(url, checks, request=None, **settings):
    crawl = {"timeout": 5, **settings, **({"request": request} if request else {})}
    (record,) = run_crawl({"crawl": crawl, "sources": [{"type": "list", "targets": [url]}], "checks": checks})
    return record


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def received(server):
    return server.requests[-1]


def case_valid_status_codes(server, ca):
    server.route("/moved", status=302, redirect_to="https://example.invalid/")
    record = crawl_one(server.url("/moved"), [{"type": "status", "expect": [200, "300-399"]}],
                       {"follow_redirects": False})
    assert record["ok"] is True


def case_method(server, ca):
    crawl_one(server.url("/"), [], {"method": "HEAD"})
    assert received(server).method == "HEAD"


def case_headers(server, ca):
    crawl_one(server.url("/"), [], {"headers": {"Accept": "application/json"}})
    assert received(server).headers["Accept"] == "application/json"


def case_body(server, ca):
    crawl_one(server.url("/"), [], {"method": "POST", "body": "ping"})
    assert received(server).body == b"ping"


def case_basic_auth(server, ca):
    with HTTPTestServer(basic_auth=("ops", "pw")) as guarded:
        config_auth = crawl_one(guarded.url("/"), [{"type": "status", "expect": [200]}],
                                {"auth": {"type": "basic", "username": "ops", "password": "pw"}})
        url_auth = crawl_one(guarded.url("/").replace("http://", "http://ops:pw@"), [{"type": "status", "expect": [200]}])
        assert guarded.last_headers["/"]["Authorization"] == basic("ops", "pw")
    assert config_auth["ok"] is True and url_auth["ok"] is True


def case_bearer_token(server, ca):
    crawl_one(server.url("/"), [], {"auth": {"type": "bearer", "token": "t0k"}})
    assert received(server).headers["Authorization"] == "Bearer t0k"


def case_client_certificates(server, ca):
    with HTTPTestServer(tls=True, ca=ca, client_ca=ca) as guarded:
        record = crawl_one(guarded.url("/", host="localhost"), [{"type": "status"}],
                           {"client_cert": ca.client_certificate_path()}, verify=ca.ca_bundle_path)
    assert record["ok"] is True


def case_ca_file_and_insecure(server, ca):
    with HTTPTestServer(tls=True, ca=ca, tls_kind="untrusted") as untrusted:
        url = untrusted.url("/", host="localhost")
        assert crawl_one(url, [], verify=ca.ca_bundle_path)["error_kind"] == "tls_error"
        assert crawl_one(url, [], verify=False)["ok"] is True


def case_no_follow_redirects(server, ca):
    server.route("/old", status=301, redirect_to="/new")
    record = crawl_one(server.url("/old"), [{"type": "status", "expect": [301]}], {"follow_redirects": False})
    assert record["ok"] is True and server.hits["/new"] == 0


def case_fail_if_ssl(server, ca):
    assert crawl_one(server.url("/"), [{"type": "tls", "required": False}])["ok"] is True
    with HTTPTestServer(tls=True, ca=ca) as secure:
        record = crawl_one(secure.url("/", host="localhost"), [{"type": "tls", "required": False}], verify=ca.ca_bundle_path)
    assert record["ok"] is False


def case_fail_if_not_ssl(server, ca):
    assert crawl_one(server.url("/"), [{"type": "tls"}])["ok"] is False


def case_fail_if_header_matches(server, ca):
    server.route("/", headers={"Server": "Apache/2.2.3"})
    record = crawl_one(server.url("/"), [{"type": "header", "header": "server", "matches": r"Apache/2\.2", "negate": True}])
    assert record["ok"] is False


def case_fail_if_header_not_matches(server, ca):
    server.route("/", headers={"Cache-Control": "no-store"})
    record = crawl_one(server.url("/"), [{"type": "header", "header": "Cache-Control", "matches": "no-store"}])
    assert record["ok"] is True


def case_fail_if_body_matches_regexp(server, ca):
    server.route("/", body="Fatal error: out of memory")
    record = crawl_one(server.url("/"), [{"type": "body_match", "pattern": "[Ff]atal", "regex": True, "negate": True}])
    assert record["ok"] is False


def case_fail_if_body_not_matches_regexp(server, ca):
    server.route("/", body="version 2.4.1")
    record = crawl_one(server.url("/"), [{"type": "body_match", "pattern": r"version \d+\.", "regex": True}])
    assert record["ok"] is True


def case_gatus_status(server, ca):
    assert crawl_one(server.url("/missing"), [{"type": "status", "expect": [200]}])["ok"] is False


def case_gatus_response_time(server, ca):
    server.route("/slow", delay=0.3)
    assert crawl_one(server.url("/slow"), [{"type": "response_time", "max_ms": 100}])["ok"] is False


def case_gatus_body_path(server, ca):
    server.route("/health", body=json.dumps({"status": "UP"}))
    assert crawl_one(server.url("/health"), [{"type": "json", "path": "status", "equals": "UP"}])["ok"] is True


def case_gatus_certificate_expiration(server, ca):
    with HTTPTestServer(tls=True, ca=ca, days_left=1) as expiring:
        record = crawl_one(expiring.url("/", host="localhost"), [{"type": "tls_expiry", "min_days": 2}],
                           verify=ca.ca_bundle_path)
    assert record["ok"] is False


def case_easeprobe_success_code(server, ca):
    server.route("/", status=204, body=b"")
    assert crawl_one(server.url("/"), [{"type": "status", "expect": [204]}])["ok"] is True


def case_easeprobe_contain(server, ca):
    server.route("/", body="all systems operational")
    checks = [{"type": "body_match", "name": "contain", "pattern": "operational"},
              {"type": "body_match", "name": "not_contain", "pattern": "degraded", "negate": True}]
    assert crawl_one(server.url("/"), checks)["ok"] is True


CASES = {
    "blackbox `valid_status_codes`": case_valid_status_codes,
    "blackbox `method`": case_method,
    "blackbox `headers`": case_headers,
    "blackbox `body`": case_body,
    "blackbox `basic_auth`": case_basic_auth,
    "blackbox `bearer_token`": case_bearer_token,
    "blackbox `tls_config` `cert_file`/`key_file`": case_client_certificates,
    "blackbox `tls_config` `ca_file`, `insecure_skip_verify`": case_ca_file_and_insecure,
    "blackbox `no_follow_redirects`": case_no_follow_redirects,
    "blackbox `fail_if_ssl`": case_fail_if_ssl,
    "blackbox `fail_if_not_ssl`": case_fail_if_not_ssl,
    "blackbox `fail_if_header_matches`": case_fail_if_header_matches,
    "blackbox `fail_if_header_not_matches`": case_fail_if_header_not_matches,
    "blackbox `fail_if_body_matches_regexp`": case_fail_if_body_matches_regexp,
    "blackbox `fail_if_body_not_matches_regexp`": case_fail_if_body_not_matches_regexp,
    "Gatus `[STATUS] == 200`": case_gatus_status,
    "Gatus `[RESPONSE_TIME] < 500`": case_gatus_response_time,
    "Gatus `[BODY].status == UP`": case_gatus_body_path,
    "Gatus `[CERTIFICATE_EXPIRATION] > 48h`": case_gatus_certificate_expiration,
    "EaseProbe `success_code`": case_easeprobe_success_code,
    "EaseProbe `contain` / `not_contain`": case_easeprobe_contain,
}


def test_every_row_of_the_table_has_a_case():
    assert table_rows() == list(CASES)


@pytest.mark.parametrize("row", list(CASES))
def test_peer_feature(row, healthcrawl_ca):
    with HTTPTestServer() as server:
        CASES[row](server, healthcrawl_ca)
