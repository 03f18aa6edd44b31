"""The security_headers check against real loopback servers."""

import pytest
from healthcrawl.config import ConfigError
from healthcrawl.testing.crawl import records_by_target, run_crawl
from healthcrawl.testing.servers import HTTPTestServer

GOOD = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'",
}


def verdicts(server, routes, ca=None, **options):
    """Crawl ``routes`` ({path: headers}) on ``server`` with the check; returns {path: (ok, detail)}."""
    for path, headers in routes.items():
        server.route(path, headers=headers)
    config = {
        "crawl": {"timeout": 5, "verify": ca.ca_bundle_path if ca else True},
        "sources": [{"type": "list", "targets": [server.url(path) for path in routes]}],
        "checks": [{"type": "security_headers", **options}],
    }
    records = records_by_target(run_crawl(config))
    return {path: (records[server.url(path)]["checks"][0]["ok"], records[server.url(path)]["checks"][0]["detail"])
            for path in routes}


def test_https_response_with_every_header_passes_and_missing_ones_are_named(ca):
    with HTTPTestServer(tls=True, ca=ca) as server:
        result = verdicts(server, {"/good": GOOD, "/bare": {}}, ca)
    assert result["/good"] == (True, "security headers present")
    assert result["/bare"] == (False, "Strict-Transport-Security missing; X-Content-Type-Options missing; "
                                      "Content-Security-Policy missing")


def test_hsts_max_age_below_the_minimum_fails(ca):
    weak = {name.lower(): value for name, value in GOOD.items()}  # header names are case-insensitive
    weak["strict-transport-security"] = 'max-age="300"'
    no_age = {**GOOD, "Strict-Transport-Security": "includeSubDomains"}
    with HTTPTestServer(tls=True, ca=ca) as server:
        strict = verdicts(server, {"/weak": weak, "/no-age": no_age}, ca)
        lenient = verdicts(server, {"/weak": weak}, ca, hsts_min_max_age=300)
    assert strict["/weak"] == (False, "Strict-Transport-Security max-age 300 < 31536000")
    assert strict["/no-age"] == (False, "Strict-Transport-Security has no max-age")
    assert lenient["/weak"][0] is True


def test_nosniff_must_be_exactly_nosniff_and_csp_not_empty(ca):
    with HTTPTestServer(tls=True, ca=ca) as server:
        result = verdicts(server, {"/sniff": {**GOOD, "X-Content-Type-Options": "sniff", "Content-Security-Policy": " "}}, ca)
    assert result["/sniff"] == (False, "X-Content-Type-Options is 'sniff', not 'nosniff'; Content-Security-Policy missing")


def test_hsts_is_not_required_over_plain_http():
    without_hsts = {k: v for k, v in GOOD.items() if k != "Strict-Transport-Security"}
    with HTTPTestServer() as server:
        result = verdicts(server, {"/plain": without_hsts})
    assert result["/plain"] == (True, "security headers present")


def test_require_limits_what_is_checked(ca):
    with HTTPTestServer(tls=True, ca=ca) as server:
        result = verdicts(server, {"/csp-only": {"Content-Security-Policy": "default-src 'none'"}}, ca,
                          require=["content-security-policy"])
    assert result["/csp-only"] == (True, "security headers present")


@pytest.mark.parametrize("options, problem", [
    ({"require": ["x-frame-options"]}, "checks[0].require[0]: must be one of"),
    ({"require": []}, "checks[0].require: must name at least one header"),
    ({"hsts_min_max_age": -1}, "checks[0].hsts_min_max_age: must be at least 0"),
    ({"max_age": 1}, "checks[0].max_age: unknown key"),
])
def test_bad_options_are_config_errors_naming_the_key(options, problem):
    config = {"sources": [{"type": "list", "targets": ["a.example"]}], "checks": [{"type": "security_headers", **options}]}
    with pytest.raises(ConfigError) as caught:
        run_crawl(config)
    assert any(line.startswith(problem) for line in caught.value.problems), caught.value.problems
