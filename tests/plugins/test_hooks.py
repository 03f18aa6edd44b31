"""One test per plugin hook: what it receives, when it is called, and what an exception in it does."""

import logging

import pytest
from marshmallow import Schema, fields

from healthcrawl import Check, ConfigError, Sink, Source, hookimpl, parse_target


def list_source(*urls):
    return [{"type": "list", "targets": list(urls)}]


def by_target(records):
    return {record["target"]: record for record in records}


@pytest.mark.hook("healthcrawl_register_sources")
def test_a_registered_source_type_feeds_the_crawl(http_server, crawl, register_plugin):
    class PathsOptions(Schema):
        paths = fields.List(fields.String(), required=True)

    class PathsSource(Source):
        type_name = "paths"
        Options = PathsOptions

        def targets(self):
            for path in self.options["paths"]:
                yield parse_target(http_server.url(path))

    class Plugin:
        @hookimpl
        def healthcrawl_register_sources(self, register):
            register(PathsSource)

    register_plugin(Plugin())
    records = crawl({"sources": [{"type": "paths", "paths": ["/", "/missing"]}], "checks": [{"type": "status"}]})
    assert {r["target"]: r["ok"] for r in records} == {http_server.url("/"): True, http_server.url("/missing"): False}


@pytest.mark.hook("healthcrawl_register_checks")
def test_a_registered_check_type_is_configured_through_its_schema(http_server, crawl, register_plugin):
    class LongerThanOptions(Schema):
        min_bytes = fields.Integer(required=True)

    class LongerThan(Check):
        type_name = "longer_than"
        Options = LongerThanOptions

        def evaluate(self, snapshot):
            return self.outcome(len(snapshot.body) > self.options["min_bytes"], f"{len(snapshot.body)} bytes")

    class Plugin:
        @hookimpl
        def healthcrawl_register_checks(self, register):
            register(LongerThan)

    register_plugin(Plugin())
    http_server.route("/long", body="x" * 100)
    records = by_target(crawl({"sources": list_source(http_server.url("/"), http_server.url("/long")),
                               "checks": [{"type": "longer_than", "min_bytes": 10}]}))
    assert records[http_server.url("/long")]["checks"] == [{"name": "longer_than", "ok": True, "detail": "100 bytes"}]
    assert records[http_server.url("/")]["checks"][0]["ok"] is False
    with pytest.raises(ConfigError) as bad:
        crawl({"sources": list_source(http_server.url("/")), "checks": [{"type": "longer_than", "min": 1}]})
    assert bad.value.problems == ["checks[0].min_bytes: missing data for required field", "checks[0].min: unknown key"]


@pytest.mark.hook("healthcrawl_register_sinks")
def test_a_registered_sink_type_is_opened_written_and_closed(http_server, crawl, register_plugin):
    calls = []

    class RecordingSink(Sink):
        type_name = "recording"

        def open(self, run):
            calls.append(("open", run.run_id))

        def write(self, results):
            calls.append(("write", sorted(r.target for r in results)))

        def close(self, run, summary, state):
            calls.append(("close", run.run_id, summary.total, state))

    class Plugin:
        @hookimpl
        def healthcrawl_register_sinks(self, register):
            register(RecordingSink)

    register_plugin(Plugin())
    records = crawl({"sources": list_source(http_server.url("/"), http_server.url("/x")), "sinks": [{"type": "recording"}]})
    run_id = records[0]["run_id"]
    assert calls == [("open", run_id), ("write", sorted(r["target"] for r in records)), ("close", run_id, 2, "completed")]


@pytest.mark.hook("healthcrawl_prepare_request")
def test_prepare_request_adjusts_every_hop_and_an_exception_fails_only_its_target(http_server, crawl, register_plugin):
    seen = []

    class Plugin:
        @hookimpl
        def healthcrawl_prepare_request(self, request):
            seen.append((request.target.url, request.url))
            if "explode" in request.url:
                raise RuntimeError("no token for this host")
            request.headers["X-Token"] = "t0ken"
            request.auth = ("user", "secret")

    register_plugin(Plugin())
    http_server.route("/old", redirect_to="/new")
    records = by_target(crawl({"sources": list_source(http_server.url("/old"), http_server.url("/explode")),
                               "checks": []}))
    assert records[http_server.url("/old")]["ok"] is True
    assert (http_server.url("/old"), http_server.url("/new")) in seen  # called again for the redirect hop
    assert http_server.last_headers["/new"]["X-Token"] == "t0ken"
    assert http_server.last_headers["/new"]["Authorization"].startswith("Basic ")
    failed = records[http_server.url("/explode")]
    assert failed["error_kind"] == "internal_error" and "no token for this host" in failed["error"]
    assert http_server.hits["/explode"] == 0


@pytest.mark.hook("healthcrawl_result")
def test_result_hook_sees_every_result_and_a_failing_one_is_isolated(http_server, crawl, register_plugin, caplog):
    observed = []

    class Broken:
        @hookimpl
        def healthcrawl_result(self, result):
            raise ValueError("observer bug")

    class Observer:
        @hookimpl
        def healthcrawl_result(self, result):
            observed.append((result.target, result.ok, result.to_record()["status_code"]))

    register_plugin(Observer())
    register_plugin(Broken(), name="broken-observer")
    with caplog.at_level(logging.ERROR, logger="healthcrawl"):
        records = crawl({"sources": list_source(http_server.url("/"), http_server.url("/missing")),
                         "checks": [{"type": "status"}]})
    assert sorted(observed) == sorted((r["target"], r["ok"], r["status_code"]) for r in records)
    assert len(records) == 2
    messages = [r.getMessage() for r in caplog.records]
    assert messages.count("plugin 'broken-observer' failed in healthcrawl_result: ValueError: observer bug") == 2


@pytest.mark.hook("healthcrawl_crawl_start")
def test_crawl_start_runs_once_before_any_fetch(http_server, crawl, register_plugin, caplog):
    starts = []

    class Plugin:
        @hookimpl
        def healthcrawl_crawl_start(self, run):
            starts.append((run.run_id, run.config_name, run.settings.concurrency, http_server.hits["/"]))

    class Broken:
        @hookimpl
        def healthcrawl_crawl_start(self):
            raise RuntimeError("cannot start")

    register_plugin(Plugin())
    register_plugin(Broken(), name="broken-start")
    with caplog.at_level(logging.ERROR, logger="healthcrawl"):
        records = crawl({"crawl": {"concurrency": 3}, "sources": list_source(http_server.url("/"))})
    assert starts == [(records[0]["run_id"], "test", 3, 0)]
    assert records[0]["ok"] is True
    assert "plugin 'broken-start' failed in healthcrawl_crawl_start: RuntimeError: cannot start" in caplog.text


@pytest.mark.hook("healthcrawl_crawl_finish")
def test_crawl_finish_gets_the_summary_and_state(http_server, crawl, register_plugin):
    finishes = []

    class Plugin:
        @hookimpl
        def healthcrawl_crawl_finish(self, run, summary, state):
            finishes.append((run.run_id, summary.total, summary.ok, summary.failed_checks, state))

    class OnlyState:
        @hookimpl
        def healthcrawl_crawl_finish(self, state):  # an implementation may take fewer arguments
            finishes.append(state)

    register_plugin(Plugin())
    register_plugin(OnlyState())
    records = crawl({"sources": list_source(http_server.url("/"), http_server.url("/missing")),
                     "checks": [{"type": "status"}]})
    assert sorted(finishes, key=str) == sorted([(records[0]["run_id"], 2, 1, 1, "completed"), "completed"], key=str)

