"""The security_headers check against real loopback servers (fixtures from healthcrawl's pytest plugin)."""

import pytest
from healthcrawl import CheckOutcome, ConfigError, Snapshot, Target
from healthcrawl.testing.crawl import records_by_target

from healthcrawl_security_headers.check import SecurityHeadersCheck, SecurityHeadersOptions

GOOD = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'",
}


@pytest.fixture
def verdicts(crawl):
    """``verdicts(server, {path: headers}, **options)``: crawl the paths with the check; {path: (ok, detail)}."""

    def judge(server, routes, **options):
        for path, headers in routes.items():
            server.route(path, headers=headers)
        records = records_by_target(crawl({
            "sources": [{"type": "list", "targets": [server.url(path) for path in routes]}],
            "checks": [{"type": "security_headers", **options}],
        }))
        outcomes = {path: records[server.url(path)]["checks"][0] for path in routes}
        return {path: (outcome["ok"], outcome["detail"]) for path, outcome in outcomes.items()}

    return judge


def test_https_response_with_every_header_passes_and_missing_ones_are_named(https_server, verdicts):
    result = verdicts(https_server, {"/good": GOOD, "/bare": {}})
    assert result["/good"] == (True, "security headers present")
    assert result["/bare"] == (False, "Strict-Transport-Security missing; X-Content-Type-Options missing; "
                                      "Content-Security-Policy missing")


def test_hsts_max_age_below_the_minimum_fails(https_server, verdicts):
    weak = {name.lower(): value for name, value in GOOD.items()}  # header names are case-insensitive
    weak["strict-transport-security"] = 'max-age="300"'
    no_age = {**GOOD, "Strict-Transport-Security": "includeSubDomains"}
    strict = verdicts(https_server, {"/weak": weak, "/no-age": no_age})
    lenient = verdicts(https_server, {"/weak": weak}, hsts_min_max_age=300)
    assert strict["/weak"] == (False, "Strict-Transport-Security max-age 300 < 31536000")
    assert strict["/no-age"] == (False, "Strict-Transport-Security has no max-age")
    assert lenient["/weak"][0] is True


def test_nosniff_must_be_exactly_nosniff_and_csp_not_empty(https_server, verdicts):
    sniffing = {**GOOD, "X-Content-Type-Options": "sniff", "Content-Security-Policy": " "}
    result = verdicts(https_server, {"/sniff": sniffing})
    assert result["/sniff"] == (False, "X-Content-Type-Options is 'sniff', not 'nosniff'; Content-Security-Policy missing")


def test_hsts_is_not_required_over_plain_http(http_server, verdicts):
    without_hsts = {k: v for k, v in GOOD.items() if k != "Strict-Transport-Security"}
    assert verdicts(http_server, {"/plain": without_hsts})["/plain"] == (True, "security headers present")


def test_require_limits_what_is_checked(https_server, verdicts):
    csp_only = {"Content-Security-Policy": "default-src 'none'"}
    result = verdicts(https_server, {"/csp-only": csp_only}, require=["content-security-policy"])
    assert result["/csp-only"] == (True, "security headers present")


@pytest.mark.parametrize("options, problem", [
    ({"require": ["x-frame-options"]}, "checks[0].require[0]: must be one of"),
    ({"require": []}, "checks[0].require: must name at least one header"),
    ({"hsts_min_max_age": -1}, "checks[0].hsts_min_max_age: must be at least 0"),
    ({"max_age": 1}, "checks[0].max_age: unknown key"),
])
def test_bad_options_are_config_errors_naming_the_key(crawl, options, problem):
    config = {"sources": [{"type": "list", "targets": ["a.example"]}], "checks": [{"type": "security_headers", **options}]}
    with pytest.raises(ConfigError) as caught:
        crawl(config)
    assert any(line.startswith(problem) for line in caught.value.problems), caught.value.problems


def test_the_check_is_built_in_code_without_a_config_or_a_context():
    check = SecurityHeadersCheck(SecurityHeadersOptions().load({"require": ["x-content-type-options"]}))
    snapshot = Snapshot(Target("https://a.example/"), status_code=200, headers={"X-Content-Type-Options": "sniff"})
    assert check.evaluate(snapshot) == CheckOutcome("security_headers", False, "X-Content-Type-Options is 'sniff', not 'nosniff'")
