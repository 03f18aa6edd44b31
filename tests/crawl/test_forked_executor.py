"""crawl.workers > 1: forked processes fetch, the parent shares targets out lazily and writes one run."""

import json
import os

import gevent

from healthcrawl import Check, Source, hookimpl, parse_target
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.testing.crawl import run_crawl_outcome
from healthcrawl.testing.servers import HTTPTestServer


class WhichProcess(Check):
    """Records the id of the process that evaluated the snapshot."""

    type_name = "which_process"

    def evaluate(self, snapshot):
        return self.outcome(True, str(os.getpid()))


class CountingSource(Source):
    """Yields ``count`` targets and remembers how far it ran ahead of the results written."""

    type_name = "counting"
    pulled = 0
    written = 0
    most_ahead = 0

    def targets(self):
        for index in range(self.options["count"]):
            cls = type(self)
            cls.pulled += 1
            cls.most_ahead = max(cls.most_ahead, cls.pulled - cls.written)
            yield parse_target(f"{self.options['url']}?n={index}")


class Plugin:
    @hookimpl
    def healthcrawl_register_checks(self, register):
        register(WhichProcess)

    @hookimpl
    def healthcrawl_register_sources(self, register):
        from marshmallow import Schema, fields

        CountingSource.Options = type("Options", (Schema,), {"count": fields.Integer(), "url": fields.String()})
        register(CountingSource)

    @hookimpl
    def healthcrawl_result(self, result):
        CountingSource.written += 1


def crawl_with_plugin(config, **kwargs):
    manager = get_plugin_manager()
    manager.register(Plugin(), name="test-workers")
    try:
        return run_crawl_outcome(config, **kwargs)
    finally:
        manager.unregister(name="test-workers")


def test_two_workers_share_the_targets_and_the_parent_writes_one_run(tmp_path):
    results_file = tmp_path / "results.jsonl"
    with HTTPTestServer() as server:
        targets = [server.url("/") + f"?n={i}" for i in range(300)] + ["ftp://nope/"]
        outcome, records = crawl_with_plugin({
            "crawl": {"workers": 2, "concurrency": 16},
            "sources": [{"type": "list", "targets": targets}],
            "checks": [{"type": "status"}, {"type": "which_process"}],
            "sinks": [{"type": "jsonl", "path": str(results_file)}],
        })
    assert sorted(r["target"] for r in records) == sorted(targets)
    assert outcome.summary.total == 301 and outcome.summary.ok == 300
    assert outcome.summary.by_error_kind == {"invalid_target": 1}
    written = [json.loads(line) for line in results_file.read_text().splitlines()]
    assert len(written) == 301 and {r["run_id"] for r in written} == {outcome.run.run_id}
    pids = {r["checks"][1]["detail"] for r in records if r["error_kind"] is None}
    assert len(pids) == 2 and str(os.getpid()) not in pids  # both workers fetched, the parent did not


def test_targets_are_pulled_only_as_fast_as_the_workers_finish_them():
    CountingSource.pulled = CountingSource.written = CountingSource.most_ahead = 0
    with HTTPTestServer() as server:
        outcome, _ = crawl_with_plugin({
            "crawl": {"workers": 2, "concurrency": 8, "batch_size": 1},
            "sources": [{"type": "counting", "count": 600, "url": server.url("/")}],
            "checks": [{"type": "status"}],
        })
    assert outcome.summary.ok == 600
    # Each worker holds at most its pool (4) plus one chunk (4); results are in transit for a moment.
    assert CountingSource.most_ahead <= 100, CountingSource.most_ahead


def test_in_process_helpers_default_to_one_worker_so_test_plugins_run_where_the_test_is():
    with HTTPTestServer() as server:
        _, records = crawl_with_plugin({
            "sources": [{"type": "list", "targets": [server.url("/")]}],
            "checks": [{"type": "which_process"}],
        })
    assert records[0]["checks"][0]["detail"] == str(os.getpid())


def test_stop_after_the_source_is_exhausted_abandons_the_workers_targets_in_flight():
    """The workers still obey a stop after the parent told them the targets ended (they once stopped listening)."""
    from healthcrawl import Sink
    from healthcrawl.configuration.loading import build_config
    from healthcrawl.crawl.engine import Crawl
    from healthcrawl.plugin_system.registry import ComponentRegistry

    class StopAfterFastOnes(Sink):
        written = 0

        def write(self, results):
            self.written += len(results)
            if self.written >= 10:
                crawl.stop()

    with HTTPTestServer() as server:
        server.route("/slow", delay=600)
        targets = [server.url("/fast") + f"?n={i}" for i in range(10)] + [server.url("/slow") + f"?n={i}" for i in range(10)]
        config = build_config(
            {"crawl": {"workers": 2, "concurrency": 40, "batch_size": 1, "timeout": 900},
             "sources": [{"type": "list", "targets": targets}], "checks": []},
            ComponentRegistry.from_plugins(get_plugin_manager()),
        )
        sink = StopAfterFastOnes()
        crawl = Crawl(config, extra_sinks=[sink])
        with gevent.Timeout(120):  # a hang would wait for the 600 s slow responses
            outcome = crawl.run(handle_signals=False)
    assert outcome.state == "interrupted" and outcome.summary.total == 10
