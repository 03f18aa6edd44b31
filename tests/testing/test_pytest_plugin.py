"""The ``healthcrawl`` pytest plugin, tested the way pytest tests plugins: inner test runs with pytester.

Inner runs are subprocesses: an in-process run would leave this process with two copies of every
module the inner run imported first (pytester drops them from ``sys.modules`` afterwards).
"""

import textwrap


def run_inner(pytester, source, *args):
    pytester.makepyfile(test_inner=textwrap.dedent(source))
    return pytester.runpytest_subprocess("-q", *args)


def test_http_server_answers_with_the_status_body_headers_and_delay_a_test_sets(pytester):
    result = run_inner(pytester, """
        import requests

        def test_routes(http_server, crawl):
            http_server.route("/teapot", status=418, body="short and stout", headers={"X-Kind": "tea"})
            http_server.route("/slow", delay=2.0)
            teapot, slow = http_server.url("/teapot"), http_server.url("/slow")
            records = {r["target"]: r for r in crawl({
                "crawl": {"timeout": 0.5},
                "sources": [{"type": "list", "targets": [teapot, slow]}],
                "checks": [{"type": "status", "expect": [418]}, {"type": "body_match", "pattern": "stout"}],
            })}
            assert records[teapot]["status_code"] == 418 and records[teapot]["ok"] is True
            assert records[teapot]["body_bytes"] == len("short and stout")
            assert records[slow]["error_kind"] == "timeout"
            assert requests.get(teapot, timeout=2).headers["X-Kind"] == "tea"
    """)
    result.assert_outcomes(passed=1)


def test_https_servers_present_the_certificate_a_test_asks_for(pytester):
    result = run_inner(pytester, """
        import pytest

        def crawl_one(crawl, server):
            config = {"sources": [{"type": "list", "targets": [server.url("/")]}],
                      "checks": [{"type": "tls_expiry", "min_days": 14}]}
            (record,) = crawl(config)
            return record

        def test_https_server_is_trusted_by_crawl(https_server, crawl):
            record = crawl_one(crawl, https_server)
            assert record["ok"] is True and record["tls"]["verified"] is True

        @pytest.mark.parametrize("cert, days_left", [("expired", (-4, -3)), ("untrusted", (1, 10**7)),
                                                     ("wrong_host", (1, 10**7))])
        def test_broken_certificates(make_server, crawl, cert, days_left):
            record = crawl_one(crawl, make_server(cert=cert))
            assert record["error_kind"] == "tls_error" and record["tls"]["verified"] is False
            assert days_left[0] <= record["tls"]["days_left"] <= days_left[1]

        def test_certificate_expiring_in_5_days(make_server, crawl):
            record = crawl_one(crawl, make_server(days_left=5))
            assert record["error_kind"] is None and record["tls"]["verified"] is True
            assert record["tls"]["days_left"] in (4, 5) and record["checks"][0]["ok"] is False

        def test_unknown_certificate_kind_is_refused(make_server):
            with pytest.raises(ValueError, match="cert must be one of"):
                make_server(cert="self-signed")
    """)
    result.assert_outcomes(passed=6)


def test_register_plugin_registers_for_one_test_only(pytester):
    result = run_inner(pytester, """
        import pytest
        from marshmallow import Schema, fields

        from healthcrawl import hookimpl
        from healthcrawl.plugin_system.components import Check
        from healthcrawl import ConfigError

        class HeaderOptions(Schema):
            name = fields.String(required=True)

        class HeaderPresent(Check):
            type_name = "header_present"
            Options = HeaderOptions

            def evaluate(self, snapshot):
                return self.outcome(self.options["name"] in snapshot.headers)

        class Plugin:
            @hookimpl
            def healthcrawl_register_checks(self, register):
                register(HeaderPresent)

        CONFIG = {"checks": [{"type": "header_present", "name": "X-Kind"}]}

        def test_registered_plugin_takes_part(http_server, crawl, register_plugin):
            assert register_plugin(Plugin(), name="header-plugin") == "header-plugin"
            http_server.route("/tea", headers={"X-Kind": "tea"})
            sources = [{"type": "list", "targets": [http_server.url("/tea"), http_server.url("/")]}]
            records = {r["target"]: r for r in crawl({**CONFIG, "sources": sources})}
            assert records[http_server.url("/tea")]["ok"] is True
            assert records[http_server.url("/")]["ok"] is False

        def test_it_is_gone_in_the_next_test(http_server, crawl):
            with pytest.raises(ConfigError, match="unknown check type 'header_present'"):
                crawl({**CONFIG, "sources": [{"type": "list", "targets": [http_server.url("/")]}]})

        def test_an_already_registered_plugin_is_left_registered(register_plugin):
            import healthcrawl.plugins.checks.status as status
            assert register_plugin(status) == "healthcrawl.plugins.checks.status"

        def test_so_the_built_in_check_still_works(http_server, crawl):
            (record,) = crawl({"sources": [{"type": "list", "targets": [http_server.url("/")]}],
                               "checks": [{"type": "status"}]})
            assert record["checks"][0]["name"] == "status" and record["ok"] is True
    """)
    result.assert_outcomes(passed=4)


def test_the_plugin_is_loaded_from_its_entry_point_and_can_be_switched_off(pytester):
    pytester.makepyfile(test_inner="def test_uses_a_fixture(http_server):\n    assert http_server.port\n")
    loaded = pytester.runpytest_subprocess("-q")
    loaded.assert_outcomes(passed=1)
    switched_off = pytester.runpytest_subprocess("-q", "-p", "no:healthcrawl")
    switched_off.assert_outcomes(errors=1)
    switched_off.stdout.fnmatch_lines(["*fixture 'http_server' not found*"])
