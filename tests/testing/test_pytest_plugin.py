"""The ``healthcrawl`` pytest plugin, tested the way pytest tests plugins: inner test runs with pytester.

Inner runs are subprocesses, and fresh projects: healthcrawl is installed (so its plugin is loaded),
but nothing is patched unless the project opts in with ``healthcrawl_gevent = true``. (An in-process
run would also leave this process with two copies of every module the inner run imported first.)
"""

import subprocess
import sys
import textwrap

OPT_IN = "[tool.pytest.ini_options]\nhealthcrawl_gevent = true\n"


def run_inner(pytester, source, *args, opt_in=True):
    """Run ``source`` as the test module of a fresh project (opted in to gevent unless ``opt_in=False``)."""
    if opt_in:
        pytester.makepyprojecttoml(OPT_IN)
    pytester.makepyfile(test_inner=textwrap.dedent(source))
    return pytester.runpytest_subprocess("-q", *args)


def test_loading_the_plugin_imports_no_ssl_requests_or_servers():
    script = ("import sys, healthcrawl.testing, healthcrawl.testing.pytest_plugin\n"
              "print(sorted(m for m in ('ssl', 'urllib3', 'requests', 'trustme', 'healthcrawl.testing.servers')"
              " if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert loaded.stdout.strip() == "[]"


def test_a_project_that_does_not_opt_in_runs_unpatched(pytester):
    result = run_inner(pytester, """
        import socket
        import ssl

        from gevent import monkey

        def test_plain(pytestconfig):
            assert pytestconfig.pluginmanager.hasplugin("healthcrawl"), "the plugin is loaded..."
            assert not monkey.is_module_patched("socket") and not monkey.is_module_patched("ssl")  # ...and idle
            assert socket.socket is monkey.get_original("socket", "socket")
            assert ssl.SSLContext is monkey.get_original("ssl", "SSLContext")
    """, opt_in=False)
    result.assert_outcomes(passed=1)


def test_a_project_that_opts_in_is_patched_before_its_conftest_is_imported(pytester):
    pytester.makeconftest("""
        import requests  # what a plugin's conftest.py may well import first
        from gevent import monkey

        PATCHED_BEFORE_CONFTEST = monkey.is_module_patched("socket") and monkey.is_module_patched("ssl")
    """)
    result = run_inner(pytester, """
        import socket

        from gevent import monkey
        from conftest import PATCHED_BEFORE_CONFTEST

        def test_patched(http_server, crawl):
            assert PATCHED_BEFORE_CONFTEST
            assert socket.socket is not monkey.get_original("socket", "socket")
            (record,) = crawl({"sources": [{"type": "list", "targets": [http_server.url("/")]}]})
            assert record["ok"] is True
    """)
    result.assert_outcomes(passed=1)


def test_fixtures_that_need_gevent_say_how_to_opt_in(pytester):
    result = run_inner(pytester, """
        def test_server(http_server):
            pass

        def test_crawl(crawl):
            pass

        def test_the_ca_needs_no_patch(healthcrawl_ca):
            assert healthcrawl_ca.ca_bundle_path
    """, opt_in=False)
    result.assert_outcomes(passed=1, errors=2)
    hint = "healthcrawl's fixtures make_server, http_server, https_server and crawl need gevent's monkey patch"
    result.stdout.fnmatch_lines([f"*{hint}*set `healthcrawl_gevent = true`*"] * 2)
    assert "Traceback" not in result.stdout.str()
    pytester.runpytest_subprocess("-q", "-o", "healthcrawl_gevent=true").assert_outcomes(passed=3)


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

        from healthcrawl import Check, ConfigError, hookimpl

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
    pytester.makepyprojecttoml(OPT_IN)
    pytester.makepyfile(test_inner="def test_uses_a_fixture(http_server):\n    assert http_server.port\n")
    loaded = pytester.runpytest_subprocess("-q")
    loaded.assert_outcomes(passed=1)
    switched_off = pytester.runpytest_subprocess("-q", "-p", "no:healthcrawl")
    switched_off.assert_outcomes(errors=1)
    switched_off.stdout.fnmatch_lines(["*fixture 'http_server' not found*"])
