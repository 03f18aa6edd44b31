"""A target's own fields (e.g. CSV columns) override the crawl-wide expectations of status and body_match."""

import dataclasses

from healthcrawl import hookimpl
from healthcrawl.plugin_system.components import Source
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.target_parsing import parse_target
from healthcrawl.testing.crawl import records_by_target, run_crawl
from healthcrawl.testing.servers import HTTPTestServer


class FieldsSource(Source):
    """Targets with per-target fields, given as ``[[url, {field: value}], ...]`` in ``TARGETS``."""

    type_name = "test_fields"
    TARGETS: list = []

    def targets(self):
        for url, fields in self.TARGETS:
            yield dataclasses.replace(parse_target(url), fields=fields)


class FieldsPlugin:
    @hookimpl
    def healthcrawl_register_sources(self, register):
        register(FieldsSource)


def crawl_with_fields(targets, checks):
    FieldsSource.TARGETS = targets
    manager = get_plugin_manager()
    manager.register(FieldsPlugin(), name="test-fields")
    try:
        records = run_crawl({"crawl": {"timeout": 5}, "sources": [{"type": "test_fields"}], "checks": checks})
    finally:
        manager.unregister(name="test-fields")
    return {target: record["checks"] for target, record in records_by_target(records).items()}


def test_expect_status_and_expect_body_override_the_options():
    with HTTPTestServer() as server:
        server.route("/maintenance", status=503, body="down for maintenance")
        server.route("/api", body='{"status": "green"}')
        checks = crawl_with_fields(
            [
                [server.url("/maintenance"), {"expect_status": "503", "expect_body": "maintenance"}],
                [server.url("/api"), {"expect_status": "", "expect_body": '"green"'}],
                [server.url("/"), {}],
            ],
            [{"type": "status"}, {"type": "body_match", "pattern": "ok"}],
        )
    assert checks[server.url("/maintenance")] == [
        {"name": "status", "ok": True, "detail": "status 503"},
        {"name": "body_match", "ok": True, "detail": "'maintenance' found in 20 body bytes"},
    ]
    assert [c["ok"] for c in checks[server.url("/api")]] == [True, True], "an empty field keeps the option"
    assert [c["ok"] for c in checks[server.url("/")]] == [True, True]


def test_expect_body_is_a_regular_expression_when_the_check_says_so():
    with HTTPTestServer() as server:
        server.route("/v", body="version 2.14.1")
        checks = crawl_with_fields(
            [[server.url("/v"), {"expect_body": r"version 2\.\d+"}], [server.url("/"), {"expect_body": "("}]],
            [{"type": "body_match", "pattern": "unused", "regex": True}],
        )
    assert checks[server.url("/v")][0]["ok"] is True
    assert checks[server.url("/")][0]["ok"] is False
    assert checks[server.url("/")][0]["detail"].startswith("expect_body '(' is not a valid regular expression")


def test_an_invalid_expect_status_fails_the_check_with_a_clear_detail():
    with HTTPTestServer() as server:
        checks = crawl_with_fields(
            [[server.url("/"), {"expect_status": "2xx"}], [server.url("/a"), {"expect_status": "404; 410"}]],
            [{"type": "status"}],
        )
    assert checks[server.url("/")] == [
        {"name": "status", "ok": False, "detail": "expect_status '2xx' is not valid: '2xx' is not a status code or a range such as 200-399"}
    ]
    assert checks[server.url("/a")][0]["ok"] is True
