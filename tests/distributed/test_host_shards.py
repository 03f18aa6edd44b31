"""Per-host limits across worker processes: with per_host_concurrency or per_host_delay set, each host's
targets go to one host-shard queue that one worker process consumes at a time, and shards change hands."""

from __future__ import annotations


import gevent
import pytest

from healthcrawl.testing.servers import OverlapRecordingServer

from .conftest import install_plugin, make_crawl, wait_for

pytestmark = pytest.mark.slow

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
HOST_SHARDS = 8


def sharded_crawl(broker, targets, **crawl):
    return make_crawl(targets, broker, crawl={"concurrency": 20, **crawl}, chunk_size=5, host_shards=HOST_SHARDS)


def test_per_host_concurrency_holds_across_two_workers_and_both_work(broker, start_workers):
    workers = start_workers(2, host_shards=HOST_SHARDS)
    with OverlapRecordingServer(HOSTS, hold=0.05) as server:
        targets = server.urls(30)
        crawl, collector = sharded_crawl(broker, targets, per_host_concurrency=1)
        outcome = crawl.run(handle_signals=False)

    assert outcome.state == "completed", outcome.error
    assert sorted(r.seq for r in collector.results) == list(range(len(targets)))
    assert all(r.ok for r in collector.results)
    assert dict(server.most_in_flight) == {f"{host}:{server.port}": 1 for host in HOSTS}
    # The shards changed hands between the two processes: both answered chunks.
    assert len(crawl.executor.counters.chunks_by_worker) == 2, crawl.executor.counters.chunks_by_worker
    assert all("healthcrawl.chunk" in worker.log() for worker in workers)


def test_per_host_delay_holds_across_two_workers(broker, start_workers):
    """The gaps are measured at the server, in this process: the bound is half the delay, so that a request
    recorded late while this process was busy does not fail the test; two processes on one host would
    start requests to it with gaps near zero."""
    delay = 0.4
    start_workers(2, host_shards=HOST_SHARDS)
    with OverlapRecordingServer(HOSTS, hold=0) as server:
        targets = server.urls(8)
        crawl, collector = sharded_crawl(broker, targets, per_host_delay=delay)
        outcome = crawl.run(handle_signals=False)

    assert outcome.state == "completed", outcome.error
    assert sorted(r.seq for r in collector.results) == list(range(len(targets)))
    assert len(crawl.executor.counters.chunks_by_worker) == 2, crawl.executor.counters.chunks_by_worker
    for host, arrivals in server.arrivals.items():
        gaps = [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
        assert len(arrivals) == 8 and min(gaps) >= delay / 2, (host, gaps)


def test_a_shard_owner_killed_mid_chunk_hands_its_shards_to_the_other_worker(broker, start_workers):
    workers = start_workers(2, host_shards=HOST_SHARDS)
    with OverlapRecordingServer(HOSTS, hold=0.05) as server:
        targets = server.urls(40)
        crawl, collector = sharded_crawl(broker, targets, per_host_concurrency=1)
        running = gevent.spawn(crawl.run, handle_signals=False)
        wait_for(lambda: len(collector.results) >= 20 and workers[0].chunks_running() > 0, 120, "worker 0 running a chunk")
        workers[0].kill()
        outcome = running.get(timeout=300)

    assert outcome.state == "completed", outcome.error
    assert sorted(r.seq for r in collector.results) == list(range(len(targets)))
    assert all(r.ok for r in collector.results)
    assert crawl.executor.counters.redelivered >= 1
    assert "was redelivered" in workers[1].log()


PAUSING_SOURCE = '''
import gevent.event
from marshmallow import Schema, fields

from healthcrawl import Source, hookimpl, parse_target

resume = gevent.event.Event()


class PausingSource(Source):
    """Yields ``first``, then waits for ``resume`` (a source waiting on a slow upstream), then ``rest``."""

    type_name = "pausing"

    class Options(Schema):
        first = fields.List(fields.String(), required=True)
        rest = fields.List(fields.String(), required=True)

    def targets(self):
        for text in self.options["first"]:
            yield parse_target(text)
        resume.wait(120)
        for text in self.options["rest"]:
            yield parse_target(text)


@hookimpl
def healthcrawl_register_sources(register):
    register(PausingSource)
'''


def test_a_partial_shard_chunk_is_sent_while_the_source_waits(broker, start_workers, tmp_path, monkeypatch):
    """With chunks of 50, the first 3 targets of a host would wait for 47 more: they leave after a second."""
    from healthcrawl.configuration.loading import build_config
    from healthcrawl.crawl.engine import Crawl
    from healthcrawl.plugin_system.manager import create_plugin_manager
    from healthcrawl.plugin_system.registry import ComponentRegistry
    from healthcrawl.testing.collector import ResultCollector

    start_workers(1, env=install_plugin(tmp_path, monkeypatch, "pausing_source", PAUSING_SOURCE), host_shards=HOST_SHARDS)
    import pausing_source

    with OverlapRecordingServer(HOSTS, hold=0) as server:
        first, rest = server.urls(1)[:3], server.urls(3)[3:]
        manager = create_plugin_manager()
        config = build_config({
            "crawl": {"concurrency": 20, "timeout": 10, "per_host_concurrency": 1,
                      "distributed": {"broker": broker, "chunk_size": 50, "host_shards": HOST_SHARDS}},
            "sources": [{"type": "pausing", "first": first, "rest": rest}],
        }, ComponentRegistry.from_plugins(manager), name="test")
        collector = ResultCollector()
        crawl = Crawl(config, manager, extra_sinks=[collector])
        running = gevent.spawn(crawl.run, handle_signals=False)
        wait_for(lambda: len(collector.results) == 3 or running.ready(), 120, "the first 3 results, the source still waiting")
        pausing_source.resume.set()
        outcome = running.get(timeout=120)

    assert outcome.state == "completed", outcome.error
    assert sorted(r.seq for r in collector.results[:3]) == [0, 1, 2]
    assert sorted(r.seq for r in collector.results) == list(range(len(first) + len(rest)))
