"""Sequence numbers: every target gets its position in the run's sources; SeqSet holds done ones in a bitmap."""

import pytest

from healthcrawl import ComponentContext, CrawlSettings, Sink, hookimpl
from healthcrawl.crawl.resume import Resume
from healthcrawl.crawl.sequence import SeqSet
from healthcrawl.testing.crawl import run_crawl
from healthcrawl.testing.servers import HTTPTestServer


def test_seqset_adds_reports_duplicates_and_counts():
    done = SeqSet([0, 5, 5, 1_000_000])
    assert len(done) == 3
    assert 5 in done and 1_000_000 in done and 4 not in done and 2_000_000 not in done
    assert done.add(4) is True and done.add(4) is False and len(done) == 4


def test_seqset_of_ten_million_numbers_costs_about_a_bit_each():
    done = SeqSet(range(0, 10_000_000, 1000))
    done.add(9_999_999)
    assert len(done._bits) <= 2 * 10_000_000 // 8  # growth doubles at most


@pytest.mark.parametrize("workers", [1, 2])
def test_results_carry_the_position_of_their_target_across_sources_invalid_lines_included(workers):
    with HTTPTestServer() as server:
        first = [server.url("/a"), "not a target", server.url("/b")]
        second = [server.url("/c"), server.url("/d")]
        records = run_crawl({
            "crawl": {"workers": workers, "concurrency": 4},
            "sources": [{"type": "list", "targets": first}, {"type": "list", "targets": second}],
            "checks": [],
        })
    by_seq = {record["seq"]: record["target"] for record in records}
    assert by_seq == dict(enumerate(first + second))


class RememberedRun(Sink):
    """A sink type that keeps no results but says run "r1" already has some: enough to drive a resume."""

    type_name = "remembered_run"
    done = SeqSet()

    @classmethod
    def find_resume(cls, options, config_name, run_id):
        from datetime import datetime, timezone

        return Resume(run_id or "r1", datetime(2026, 1, 1, tzinfo=timezone.utc), cls.done)

    def write(self, results):
        pass


def test_a_resumed_run_checks_only_the_positions_without_a_result(register_plugin):
    class Plugin:
        @hookimpl
        def healthcrawl_register_sinks(self, register):
            register(RememberedRun)

    register_plugin(Plugin())
    RememberedRun.done = SeqSet([0, 2, 3])
    with HTTPTestServer() as server:
        targets = [server.url(f"/{n}") for n in range(6)]
        records = run_crawl(
            {"sources": [{"type": "list", "targets": targets}], "sinks": [{"type": "remembered_run"}], "checks": []},
            resume="",
        )
        assert sorted(server.hits) == ["/1", "/4", "/5"]
    assert sorted((r["seq"], r["run_id"]) for r in records) == [(1, "r1"), (4, "r1"), (5, "r1")]


def test_resume_without_a_sink_that_keeps_results_is_a_config_error():
    from healthcrawl import ConfigError

    with pytest.raises(ConfigError, match="--resume needs a sink that keeps results"):
        run_crawl({"sources": [{"type": "list", "targets": ["127.0.0.1"]}]}, resume="")


def test_components_built_in_code_need_no_context():
    class Collect(Sink):
        def write(self, results):
            pass

    sink = Collect()
    assert sink.context is None and sink.options == {}
    built = Collect.from_config({"x": 1}, ComponentContext(base_dir=None, run_id="r", settings=CrawlSettings()))
    assert built.options == {"x": 1} and built.context.run_id == "r"
