"""The engine: lazy sources, one writer with batches, isolated checks, summaries."""

import tracemalloc

import gevent
from marshmallow import Schema, fields

from healthcrawl import hookimpl
from healthcrawl import ComponentContext, CrawlSettings, Sink, Source, parse_target
from healthcrawl.plugins.sources.file import FileSource
from healthcrawl.testing.crawl import run_crawl, run_crawl_outcome
from healthcrawl.testing.servers import HTTPTestServer


def test_file_source_never_holds_a_million_lines(tmp_path):
    path = tmp_path / "targets.txt"
    with path.open("w") as out:
        for i in range(1_000_000):
            out.write(f"host{i}.example\n")
    source = FileSource.from_config({"path": str(path), "encoding": "utf-8"}, ComponentContext(tmp_path, "r", CrawlSettings()))
    tracemalloc.start()
    try:
        targets = source.targets()
        for _ in range(1000):
            next(targets)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 2_000_000  # the file is ~17 MB
    assert next(targets).url == "https://host1000.example/"


def test_file_source_skips_blanks_and_comments(tmp_path):
    (tmp_path / "t.txt").write_text("# comment\n\nexample.com\n  # indented comment\nnot a url\n")
    source = FileSource.from_config({"path": "t.txt", "encoding": "utf-8"}, ComponentContext(tmp_path, "r", CrawlSettings()))
    targets = list(source.targets())
    assert [t.url for t in targets] == ["https://example.com/", "not a url"]
    assert targets[1].invalid is not None


def test_engine_pulls_targets_lazily(http_server, register_plugin):
    """With concurrency 4, the pool has taken only a few targets when the first result is written."""
    pulled = []
    pulled_at_first_write = []

    class CountingSourceOptions(Schema):
        base = fields.String(required=True)

    class CountingSource(Source):
        type_name = "counting"
        Options = CountingSourceOptions

        def targets(self):
            for i in range(200):
                pulled.append(i)
                yield parse_target(f"{self.options['base']}?n={i}")

    class FirstWrite(Sink):
        def write(self, results):
            if not pulled_at_first_write:
                pulled_at_first_write.append(len(pulled))

    class Plugin:
        @hookimpl
        def healthcrawl_register_sources(self, register):
            register(CountingSource)

    register_plugin(Plugin())
    config = {"crawl": {"concurrency": 4, "batch_size": 1}, "sources": [{"type": "counting", "base": http_server.url("/")}],
              "checks": []}
    outcome, _ = run_crawl_outcome(config, extra_sinks=[FirstWrite()])
    assert outcome.summary.total == 200
    assert pulled_at_first_write[0] <= 4 + 2


def test_results_reach_sinks_in_batches_while_the_pool_keeps_going():
    """A sink that blocks on its first batch does not stop the pool from fetching."""
    batches = []
    fetched_while_blocked = []

    class SlowSink(Sink):
        def write(self, results):
            batches.append(len(results))
            if len(batches) == 1:  # block until the pool has gone on fetching (60 s bound for a loaded machine)
                with gevent.Timeout(60, False):
                    while server.hits["/"] < 300:
                        gevent.sleep(0.01)
                fetched_while_blocked.append(server.hits["/"])

    with HTTPTestServer() as server:
        targets = [server.url("/") + f"?n={i}" for i in range(600)]
        config = {"crawl": {"concurrency": 32, "batch_size": 100}, "sources": [{"type": "list", "targets": targets}],
                  "checks": [{"type": "status"}]}
        outcome, records = run_crawl_outcome(config, extra_sinks=[SlowSink()])
    assert len(records) == 600 and outcome.summary.ok == 600
    assert max(batches) == 100 and sum(batches) == 600
    assert fetched_while_blocked[0] >= 300  # the pool went on while the sink was blocked


def test_a_failing_check_fails_only_itself(http_server, register_plugin, crawl):
    from healthcrawl import Check

    class Exploding(Check):
        type_name = "exploding"

        def evaluate(self, snapshot):
            raise RuntimeError("boom")

    class WrongReturn(Check):
        type_name = "wrong_return"

        def evaluate(self, snapshot):
            return True

    class Plugin:
        @hookimpl
        def healthcrawl_register_checks(self, register):
            register(Exploding)
            register(WrongReturn)

    register_plugin(Plugin())
    records = crawl({
        "sources": [{"type": "list", "targets": [http_server.url("/"), http_server.url("/other")]}],
        "checks": [{"type": "exploding"}, {"type": "wrong_return"}, {"type": "status"}],
    })
    assert len(records) == 2
    for record in records:
        checks = {c["name"]: c for c in record["checks"]}
        assert checks["exploding"] == {"name": "exploding", "ok": False, "detail": "check raised RuntimeError: boom"}
        assert checks["wrong_return"]["ok"] is False and "instead of a CheckOutcome" in checks["wrong_return"]["detail"]
        assert record["error_kind"] is None and record["ok"] is False
    assert {r["checks"][2]["ok"] for r in records} == {True, False}  # status still judged: 200 and 404


def test_summary_counts_outcomes_error_kinds_and_failed_checks():
    with HTTPTestServer() as server:
        outcome, _ = run_crawl_outcome({
            "sources": [{"type": "list", "targets": [server.url("/"), server.url("/missing"), "bad target"]}],
            "checks": [{"type": "status"}],
        })
    summary = outcome.summary
    assert (summary.total, summary.ok, summary.failed_checks, summary.errors) == (3, 1, 1, 1)
    assert summary.by_error_kind == {"invalid_target": 1} and summary.by_failed_check == {"status": 1}
    assert {target for target, _ in summary.slowest} == {server.url("/"), server.url("/missing")}
    text = summary.render()
    assert "targets: 3" in text and "invalid_target" in text and "slowest targets:" in text


def test_connections_to_one_host_are_reused_across_targets():
    with HTTPTestServer() as server:
        targets = [server.url("/") + f"?n={i}" for i in range(100)]
        records = run_crawl({"crawl": {"concurrency": 4}, "sources": [{"type": "list", "targets": targets}], "checks": []})
        assert all(r["ok"] for r in records)
        assert server.connections <= 4
