"""Every built-in check's rules, boundaries and config rejections, one snapshot at a time.

Checks are built from config entries by ``build_config`` (as a crawl builds them) and judge ``Snapshot``s
made here, so each rule is pinned without a server: the end-to-end paths are in the other files of this
folder. These tests kill the mutants ``python mutation/run.py plugins/checks`` makes.
"""

import pytest

from healthcrawl import ConfigError, Snapshot, Target, Timings, TlsInfo, build_config


def config_of(entry):
    return build_config({"sources": [{"type": "list", "targets": ["example.com"]}], "checks": [entry]})


def check(entry):
    """The check a config entry builds (its options loaded and validated by ``build_config``)."""
    spec = config_of(entry).checks[0]
    return spec.type.cls(spec.options)


def problems(entry):
    """The config errors an entry raises."""
    with pytest.raises(ConfigError) as raised:
        config_of(entry)
    return raised.value.problems


def judge(entry, **snapshot):
    """``(ok, detail)`` of the check built from ``entry`` on a snapshot with the given fields."""
    url = snapshot.pop("url", "https://example.com/")
    fields = snapshot.pop("fields", {})
    outcome = check(entry).evaluate(Snapshot(Target(url, fields=fields), **snapshot))
    return outcome.ok, outcome.detail


def tls_info(days_left=30, version="TLSv1.3", sans=("example.com",), not_after="2030-01-01T00:00:00Z"):
    return TlsInfo(verified=True, days_left=days_left, not_after=not_after, subject=None, issuer=None,
                   sans=tuple(sans), version=version)


# status

@pytest.mark.parametrize("code, ok", [(199, False), (200, True), (302, True), (399, True), (400, False), (None, False)])
def test_status_expects_200_to_399_by_default(code, ok):
    assert judge({"type": "status"}, status_code=code)[0] is ok


def test_status_detail_names_the_code_and_what_was_expected():
    assert judge({"type": "status"}, status_code=200) == (True, "status 200")
    assert judge({"type": "status"}, status_code=503) == (False, "status 503, expected 200-399")
    assert judge({"type": "status", "expect": [204, "300-302"]}, status_code=200) == (
        False, "status 200, expected 204, 300-302")
    assert judge({"type": "status", "expect": ["404-404", "500 - 500"]}, status_code=200) == (
        False, "status 200, expected 404, 500")  # a range of one code reads as the code


@pytest.mark.parametrize("code, ok", [(203, False), (204, True), (299, True), (300, True), (301, False)])
def test_status_codes_and_ranges_are_inclusive(code, ok):
    assert judge({"type": "status", "expect": [204, " 299 - 300 "]}, status_code=code)[0] is ok


@pytest.mark.parametrize("code, shown", [(299, False), (300, True), (399, True), (400, False), (500, False)])
def test_status_shows_the_location_of_a_redirect_only(code, shown):
    ok, detail = judge({"type": "status", "expect": ["100-599"]}, status_code=code, headers={"Location": "/next"})
    assert detail == f"status {code}" + (" to /next" if shown else "")


@pytest.mark.parametrize("expect, message", [
    ([], "must be a non-empty list of status codes or ranges such as 200-399"),
    ("200", "must be a non-empty list of status codes or ranges such as 200-399"),
])
def test_status_expect_must_be_a_non_empty_list(expect, message):
    assert problems({"type": "status", "expect": expect}) == [f"checks[0].expect: {message}"]


def test_status_names_every_bad_item_at_its_index():
    assert problems({"type": "status", "expect": [200, "2xx", True, "300-200", 1000, "200-299"]}) == [
        "checks[0].expect[1]: '2xx' is not a status code or a range such as 200-399",
        "checks[0].expect[2]: true is not a status code or a range such as 200-399",
        "checks[0].expect[3]: '300-200': the range is empty",
        "checks[0].expect[4]: 1000 is not a status code or a range such as 200-399",
    ]


def test_a_targets_expect_status_overrides_expect():
    entry = {"type": "status", "expect": [200]}
    assert judge(entry, status_code=404, fields={"expect_status": "404"}) == (True, "status 404")
    assert judge(entry, status_code=204, fields={"expect_status": "200;204-206"})[0] is True
    assert judge(entry, status_code=200, fields={"expect_status": 301}) == (False, "status 200, expected 301")
    assert judge(entry, status_code=200, fields={"expect_status": ""}) == (True, "status 200")
    assert judge(entry, status_code=200, fields={"expect_status": None}) == (True, "status 200")


def test_an_invalid_expect_status_fails_the_check_with_the_reason():
    assert judge({"type": "status"}, status_code=200, fields={"expect_status": "2xx,300-200"}) == (
        False, "expect_status '2xx,300-200' is not valid: "
               "'2xx' is not a status code or a range such as 200-399; '300-200': the range is empty")


# body_match

def test_body_match_patterns_are_literal_by_default():
    assert judge({"type": "body_match", "pattern": "a.c"}, body=b"abc") == (False, "'a.c' not found in 3 body bytes")
    assert judge({"type": "body_match", "pattern": "a.c"}, body=b"xa.cx") == (True, "'a.c' found in 5 body bytes")
    assert judge({"type": "body_match", "pattern": "("}, body=b"f(x)")[0] is True


def test_body_match_regex_true_matches_a_regular_expression():
    assert judge({"type": "body_match", "pattern": "a.c", "regex": True}, body=b"abc")[0] is True
    assert judge({"type": "body_match", "pattern": "^b", "regex": True}, body=b"abc")[0] is False


def test_body_match_an_invalid_regex_is_a_config_error_naming_the_key():
    (problem,) = problems({"type": "body_match", "pattern": "(", "regex": True})
    assert problem.startswith("checks[0].pattern: not a valid regular expression: ")


def test_body_match_negate_passes_when_the_pattern_is_absent():
    assert judge({"type": "body_match", "pattern": "error", "negate": True}, body=b"fine") == (
        True, "'error' not found in 4 body bytes")
    assert judge({"type": "body_match", "pattern": "error", "negate": True}, body=b"an error")[0] is False


def test_body_match_a_regex_scans_scan_bytes_of_the_body_and_a_literal_all_of_it():
    body = b"x" * 10 + b"abc"
    assert judge({"type": "body_match", "pattern": "abc", "regex": True, "scan_bytes": 13}, body=body)[0] is True
    assert judge({"type": "body_match", "pattern": "abc", "regex": True, "scan_bytes": 12}, body=body)[0] is False
    assert judge({"type": "body_match", "pattern": "abc", "scan_bytes": 1}, body=body)[0] is True


def test_body_match_scans_64_kib_by_default():
    entry = {"type": "body_match", "pattern": "abc", "regex": True}
    assert judge(entry, body=b"x" * (65536 - 3) + b"abc")[0] is True
    assert judge(entry, body=b"x" * (65536 - 2) + b"abc")[0] is False


def test_body_match_scan_bytes_is_at_least_1():
    assert problems({"type": "body_match", "pattern": "a", "scan_bytes": 0}) == ["checks[0].scan_bytes: must be at least 1"]
    check({"type": "body_match", "pattern": "a", "scan_bytes": 1})


def test_body_match_needs_a_pattern():
    assert problems({"type": "body_match"}) == ["checks[0].pattern: missing data for required field"]


def test_a_targets_expect_body_overrides_the_pattern_literal_or_regex():
    literal, regex = {"type": "body_match", "pattern": "nope"}, {"type": "body_match", "pattern": "nope", "regex": True}
    assert judge(literal, body=b"hello", fields={"expect_body": "ell"}) == (True, "'ell' found in 5 body bytes")
    assert judge(literal, body=b"hello", fields={"expect_body": "e.l"})[0] is False
    assert judge(regex, body=b"hello", fields={"expect_body": "e.l"})[0] is True
    assert judge(literal, body=b"nope", fields={"expect_body": ""})[0] is True
    assert judge(literal, body=b"nope", fields={"expect_body": None})[0] is True


def test_an_invalid_expect_body_regex_fails_the_check_with_the_reason():
    ok, detail = judge({"type": "body_match", "pattern": "x", "regex": True}, body=b"x", fields={"expect_body": "("})
    assert ok is False and detail.startswith("expect_body '(' is not a valid regular expression: ")


# tls_expiry

@pytest.mark.parametrize("days_left, ok", [(13, False), (14, True), (15, True)])
def test_tls_expiry_passes_at_exactly_min_days_and_defaults_to_14(days_left, ok):
    assert judge({"type": "tls_expiry"}, tls=tls_info(days_left))[0] is ok


def test_tls_expiry_detail():
    assert judge({"type": "tls_expiry", "min_days": 5}, tls=tls_info(5, not_after="2030-01-01")) == (
        True, "certificate expires in 5 days (2030-01-01)")
    assert judge({"type": "tls_expiry", "min_days": 5}, tls=tls_info(4, not_after="2030-01-01")) == (
        False, "certificate expires in 4 days (2030-01-01), fewer than 5")


def test_tls_expiry_min_days_is_at_least_0():
    assert problems({"type": "tls_expiry", "min_days": -1}) == ["checks[0].min_days: must be at least 0"]
    assert judge({"type": "tls_expiry", "min_days": 0}, tls=tls_info(0))[0] is True


def test_tls_expiry_applies_only_to_a_snapshot_with_a_certificate():
    expiry = check({"type": "tls_expiry"})
    target = Target("https://example.com/")
    assert expiry.applies_to(Snapshot(target, tls=tls_info(30))) is True
    assert expiry.applies_to(Snapshot(target, tls=tls_info(None))) is False
    assert expiry.applies_to(Snapshot(target)) is False


# response_time

@pytest.mark.parametrize("took, ok", [(99.9, True), (100.0, True), (100.1, False)])
def test_response_time_passes_up_to_max_ms(took, ok):
    assert judge({"type": "response_time", "max_ms": 100}, timings=Timings(total_ms=took))[0] is ok


def test_response_time_detail_and_phase():
    entry = {"type": "response_time", "max_ms": 50, "phase": "connect"}
    assert judge(entry, timings=Timings(connect_ms=20.4, total_ms=500)) == (True, "connect 20 ms")
    assert judge(entry, timings=Timings(connect_ms=70, total_ms=10)) == (False, "connect 70 ms, more than 50 ms")
    assert judge(entry, timings=Timings(total_ms=10)) == (True, "no connect phase")


def test_response_time_options_are_checked():
    assert problems({"type": "response_time", "max_ms": 0}) == ["checks[0].max_ms: must be more than 0"]
    assert problems({"type": "response_time", "max_ms": 1, "phase": "body"}) == [
        "checks[0].phase: must be one of: total, dns, connect, tls, ttfb"]
    assert problems({"type": "response_time"}) == ["checks[0].max_ms: missing data for required field"]


# header

HEADERS = {"X-Frame-Options": "DENY", "Server": "nginx/1.25"}


@pytest.mark.parametrize("entry, expected", [
    ({"header": "Server"}, (True, "Server: 'nginx/1.25'")),
    ({"header": "X-Powered-By"}, (False, "X-Powered-By absent")),
    ({"header": "X-Powered-By", "negate": True}, (True, "X-Powered-By absent")),
    ({"header": "X-Frame-Options", "equals": "DENY"}, (True, "X-Frame-Options: 'DENY'")),
    ({"header": "X-Frame-Options", "equals": "deny"}, (False, "X-Frame-Options: 'DENY', not 'deny'")),
    ({"header": "X-Frame-Options", "equals": "ALLOW"}, (False, "X-Frame-Options: 'DENY', not 'ALLOW'")),
    ({"header": "Server", "matches": "^nginx"}, (True, "Server: 'nginx/1.25' matches '^nginx'")),
    ({"header": "Server", "matches": "1\\.2[0-4]"}, (False, "Server: 'nginx/1.25' does not match '1\\\\.2[0-4]'")),
    ({"header": "Server", "matches": "nginx", "negate": True}, (False, "Server: 'nginx/1.25' matches 'nginx'")),
    ({"header": "X-Powered-By", "absent": True}, (True, "X-Powered-By absent")),
    ({"header": "Server", "absent": True}, (False, "Server present: 'nginx/1.25'")),
    ({"header": "Server", "absent": False, "equals": "nginx/1.25"}, (True, "Server: 'nginx/1.25'")),
])
def test_header_conditions_and_details(entry, expected):
    assert judge({"type": "header", **entry}, headers=HEADERS) == expected


def test_header_options_are_checked():
    assert problems({"type": "header", "header": "A", "equals": "x", "absent": True}) == [
        "checks[0]: give at most one of equals, matches, absent (got equals, absent)"]
    (problem,) = problems({"type": "header", "header": "A", "matches": "("})
    assert problem.startswith("checks[0].matches: not a valid regular expression: ")
    assert problems({"type": "header"}) == ["checks[0].header: missing data for required field"]


# json

DOCUMENT = b'{"status": "UP", "items": [{"state": "ok", "n": 2}], "a/b": 1, "t~x": 2, "flag": true, "none": null}'


@pytest.mark.parametrize("path, found", [
    ("status", '"UP"'), ("/status", '"UP"'), ("items.0.state", '"ok"'), ("items[0].state", '"ok"'),
    ("/items/0/n", "2"), ("/a~1b", "1"), ("/t~0x", "2"), ("none", "null"), ("..status.", '"UP"'),
])
def test_json_paths_find_the_value(path, found):
    assert judge({"type": "json", "path": path}, body=DOCUMENT) == (True, f"{path} is {found}")


@pytest.mark.parametrize("path", ["", "/"])
def test_json_an_empty_path_or_a_slash_is_the_whole_body(path):
    assert judge({"type": "json", "path": path, "equals": [1]}, body=b"[1]") == (True, f"{path} is [1]")


@pytest.mark.parametrize("path", ["missing", "items.1", "items.5", "items.-1", "items.x", "status.0", "/items/0/state/x"])
def test_json_a_path_that_leads_nowhere_fails_and_passes_exists_false(path):
    assert judge({"type": "json", "path": path}, body=DOCUMENT) == (False, f"{path} not found")
    assert judge({"type": "json", "path": path, "exists": False}, body=DOCUMENT) == (True, f"{path} not found")


def test_json_exists_false_fails_on_a_value_and_excludes_other_conditions():
    assert judge({"type": "json", "path": "status", "exists": False}, body=DOCUMENT) == (False, 'status exists: "UP"')
    assert judge({"type": "json", "path": "none", "exists": True}, body=DOCUMENT) == (True, "none is null")
    assert problems({"type": "json", "path": "a", "exists": False, "equals": 1}) == [
        "checks[0].exists: exists: false excludes every other condition"]
    check({"type": "json", "path": "a", "exists": True, "equals": 1})


@pytest.mark.parametrize("key, symbol, passes_at", [
    ("lt", "<", (1.0,)), ("le", "<=", (1.0, 2.0)), ("gt", ">", (3.0,)), ("ge", ">=", (2.0, 3.0)),
])
def test_json_comparisons_at_their_boundary(key, symbol, passes_at):
    for value in (1.0, 2.0, 3.0):
        ok, detail = judge({"type": "json", "path": "v", key: 2}, body=b'{"v": %r}' % value)
        assert ok is (value in passes_at), (key, value)
        assert detail == f"v is {value!r}" + ("" if ok else f", expected {symbol} 2")


@pytest.mark.parametrize("body", [b'{"v": "1"}', b'{"v": true}', b'{"v": null}'])
def test_json_a_comparison_fails_a_value_that_is_not_a_number(body):
    ok, detail = judge({"type": "json", "path": "v", "lt": 5, "ge": 0.5}, body=body)
    assert ok is False and detail.endswith("not a number, expected < 5; not a number, expected >= 0.5")


@pytest.mark.parametrize("value, expected, ok", [
    (1, 1.0, True), (1, 2, False), (True, True, True), (True, 1, False), (1, True, False), (False, False, True),
    (False, True, False), ("a", "a", True), (None, None, True), ([1, {"b": 2}], [1, {"b": 2}], True),
])
def test_json_equals_compares_json_values_booleans_only_with_booleans(value, expected, ok):
    import json

    body = json.dumps({"v": value}).encode()
    assert judge({"type": "json", "path": "v", "equals": expected}, body=body)[0] is ok


def test_json_equals_detail():
    assert judge({"type": "json", "path": "status", "equals": "DOWN"}, body=DOCUMENT) == (
        False, 'status is "UP", expected "DOWN"')


def test_json_matches_searches_a_string_or_the_json_text_of_another_value():
    assert judge({"type": "json", "path": "status", "matches": "^U"}, body=DOCUMENT)[0] is True
    assert judge({"type": "json", "path": "items.0", "matches": '"n": 2'}, body=DOCUMENT)[0] is True
    assert judge({"type": "json", "path": "flag", "matches": "^true$"}, body=DOCUMENT)[0] is True
    assert judge({"type": "json", "path": "status", "matches": "^P"}, body=DOCUMENT) == (
        False, "status is \"UP\", does not match '^P'")


def test_json_a_failure_lists_every_condition_that_failed():
    ok, detail = judge({"type": "json", "path": "v", "equals": 3, "matches": "x", "lt": 1}, body=b'{"v": 2}')
    assert (ok, detail) == (False, "v is 2, expected 3; does not match 'x'; expected < 1")


def test_json_shortens_a_long_value_to_80_characters():
    exactly = "x" * 78  # 80 with its quotes
    assert judge({"type": "json", "path": "v"}, body=b'{"v": "%s"}' % exactly.encode())[1] == f'v is "{exactly}"'
    longer = "x" * 79
    assert judge({"type": "json", "path": "v"}, body=b'{"v": "%s"}' % longer.encode())[1] == f'v is "{"x" * 76}...'


def test_json_a_truncated_or_invalid_body_fails():
    assert judge({"type": "json", "path": "v"}, body=b'{"v": 1', body_truncated=True) == (
        False, "the body is longer than the 7 bytes read (crawl.max_body_bytes)")
    ok, detail = judge({"type": "json", "path": "v"}, body=b"\xff")
    assert ok is False and detail.startswith("the body is not JSON: ")


def test_json_needs_a_path():
    assert problems({"type": "json"}) == ["checks[0].path: missing data for required field"]


def test_json_matches_must_be_a_valid_regular_expression():
    (problem,) = problems({"type": "json", "path": "v", "matches": "("})
    assert problem.startswith("checks[0].matches: not a valid regular expression: ")


# redirect

def redirect(entry=None, **snapshot):
    return judge({"type": "redirect", **(entry or {})}, **snapshot)


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_redirect_sees_each_redirect_status_with_a_location(code):
    assert redirect(status_code=code, headers={"Location": "/b"}, url="http://h.test/a") == (
        True, f"{code} to http://h.test/b")


@pytest.mark.parametrize("code, headers", [(300, {"Location": "/b"}), (304, {"Location": "/b"}), (301, {}),
                                           (301, {"Location": ""})])
def test_redirect_without_a_redirect_status_and_location_is_no_redirect(code, headers):
    assert redirect(status_code=code, headers=headers) == (False, f"no redirect (status {code})")


def test_redirect_location_is_resolved_against_the_final_url_then_the_target():
    assert redirect(status_code=302, headers={"Location": "c"}, url="http://h.test/a/b",
                    final_url="http://other.test/x/y")[1] == "302 to http://other.test/x/c"


def test_redirect_judges_a_followed_chain_by_its_final_url():
    assert redirect({"to": "https://h.test/end"}, status_code=200, redirects=2, final_url="https://h.test/end") == (
        True, "redirects to https://h.test/end")
    assert redirect({"status": [301, 308]}, status_code=200, redirects=1, final_url="https://h.test/") == (
        False, "redirects to https://h.test/, status not seen: redirects were followed, expected 301, 308")
    assert redirect({"to_https": True}, status_code=200, redirects=1, final_url=None) == (
        False, "redirects to , expected an https URL")


def test_redirect_conditions_each_add_their_problem():
    seen = {"status_code": 302, "headers": {"Location": "http://Elsewhere.test/p"}}
    assert redirect({"status": [302], "host": "ELSEWHERE.test", "to": "http://Elsewhere.test/p"}, **seen)[0] is True
    assert redirect({"status": [301, 308], "to": "http://x.test/", "host": "x.test", "to_https": True}, **seen) == (
        False, "302 to http://Elsewhere.test/p, status 302, expected 301, 308; expected http://x.test/; "
               "expected host x.test; expected an https URL")
    assert redirect({"to_https": True}, status_code=301, headers={"Location": "https://h.test/"})[0] is True
    assert redirect({"to_https": True}, status_code=301, headers={"Location": "wss://h.test/"}) == (
        False, "301 to wss://h.test/, expected an https URL")
    assert redirect({"to": "http://a.test/"}, status_code=301, headers={"Location": "http://b.test/"}) == (
        False, "301 to http://b.test/, expected http://a.test/")
    assert redirect({"host": "a.test"}, status_code=301, headers={"Location": "http://z.test/"}) == (
        False, "301 to http://z.test/, expected host a.test")
    assert redirect({"host": "h.test"}, status_code=301, headers={"Location": "/rel"}, url="/rel")[0] is False


def test_redirect_options_are_checked():
    assert problems({"type": "redirect", "status": []}) == ["checks[0].status: must list at least one status"]
    assert problems({"type": "redirect", "status": [200]}) == [
        "checks[0].status[0]: must be one of: 301, 302, 303, 307, 308"]


# tls

def tls(entry=None, **snapshot):
    return judge({"type": "tls", **(entry or {})}, **snapshot)


def test_tls_required_by_default_and_not_required_wants_plain_http():
    assert tls(url="http://h.test/") == (False, "not TLS: http")
    assert tls(url="http://h.test/", final_url="ftp://h.test/") == (False, "not TLS: ftp")
    assert tls({"required": False}, url="http://h.test/") == (True, "plain HTTP")
    assert tls({"required": False}, tls=tls_info(version="TLSv1.2")) == (False, "served over TLSv1.2")
    assert tls({"required": False}, tls=tls_info(version=None)) == (False, "served over TLS")
    assert tls(tls=tls_info(12, version=None)) == (True, "TLS, certificate expires in 12 days")


@pytest.mark.parametrize("version, ok", [("TLSv1.1", False), ("TLSv1.2", True), ("TLSv1.3", True), ("SSLv3", False),
                                         (None, False)])
def test_tls_min_version(version, ok):
    result = tls({"min_version": "TLSv1.2"}, tls=tls_info(version=version))
    assert result[0] is ok
    assert result[1].endswith("older than TLSv1.2") is not ok


def test_tls_min_version_lowest_accepts_every_known_version_but_not_an_unknown_one():
    assert tls({"min_version": "TLSv1"}, tls=tls_info(version="TLSv1"))[0] is True
    assert tls({"min_version": "TLSv1"}, tls=tls_info(version=None))[1].endswith("older than TLSv1")
    assert tls({"min_version": "TLSv1.1"}, tls=tls_info(version="SSLv3"))[0] is False
    assert problems({"type": "tls", "min_version": "TLSv2"}) == [
        "checks[0].min_version: must be one of: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3"]


@pytest.mark.parametrize("days_left, ok", [(9, False), (10, True), (None, False)])
def test_tls_min_days_passes_at_exactly_min_days(days_left, ok):
    result = tls({"min_days": 10}, tls=tls_info(days_left))
    assert result == (ok, f"TLSv1.3, certificate expires in {days_left} days"
                          + ("" if ok else f", {days_left} days left, fewer than 10"))


def test_tls_min_days_is_at_least_0():
    assert problems({"type": "tls", "min_days": -1}) == ["checks[0].min_days: must be at least 0"]


@pytest.mark.parametrize("host, sans, ok", [
    ("h.test", ["h.test"], True),
    ("H.Test.", ["h.test."], True),
    ("a.h.test", ["*.h.test"], True),
    ("h.test", ["*.h.test"], False),
    ("a.b.h.test", ["*.h.test"], False),
    ("a.h.test", ["other.test", "a.h.test"], True),
    ("127.0.0.1", ["127.0.0.1"], True),
    ("127.0.0.1", ["127.0.0.2"], False),
    ("127.0.0.2", ["127.0.0.1"], False),
    ("[::1]", ["0:0:0:0:0:0:0:1"], True),
    ("h.test", [], False),
])
def test_tls_match_hostname(host, sans, ok):
    result = tls({"match_hostname": True}, url=f"https://{host}/", tls=tls_info(sans=sans))
    assert result[0] is ok, result


def test_tls_match_hostname_names_what_the_certificate_names_and_is_off_by_default():
    assert tls({"match_hostname": True}, url="https://x.test/", tls=tls_info(sans=["a.test", "b.test"]))[1].endswith(
        "the certificate does not name x.test (names: a.test, b.test)")
    assert tls({"match_hostname": True}, url="https://x.test/", tls=tls_info(sans=[]))[1].endswith("(names: none)")
    assert tls(url="https://x.test/", tls=tls_info(sans=[]))[0] is True
    assert tls({"match_hostname": True}, url="https://x.test/", final_url="https://a.test/",
               tls=tls_info(sans=["a.test"]))[0] is True


def test_tls_a_failure_lists_every_problem():
    ok, detail = tls({"min_version": "TLSv1.3", "match_hostname": True, "min_days": 30}, url="https://x.test/",
                     tls=tls_info(5, version="TLSv1.2", sans=["y.test"]))
    assert (ok, detail) == (False, "TLSv1.2, certificate expires in 5 days, older than TLSv1.3; "
                                   "the certificate does not name x.test (names: y.test); 5 days left, fewer than 30")
