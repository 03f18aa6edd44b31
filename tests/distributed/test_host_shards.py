"""Per-host limits across worker processes: with per_host_concurrency or per_host_delay set, each host's
targets go to one host-shard queue that one worker process consumes at a time, and shards change hands."""

from __future__ import annotations

import time
from collections import defaultdict

import gevent
import pytest
from gevent.server import StreamServer

from .conftest import install_plugin, make_crawl, wait_for

pytestmark = pytest.mark.slow

HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4"]
HOST_SHARDS = 8


class RecordingServer:
    """One port on every loopback address in ``HOSTS``; answers 200 after ``hold`` seconds and records, per
    Host header, how many requests overlapped at most and when each arrived."""

    def __init__(self, hold: float):
        self.hold = hold
        self.in_flight: dict[str, int] = defaultdict(int)
        self.most_in_flight: dict[str, int] = defaultdict(int)
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self._servers = []
        self.port = None

    def __enter__(self):
        first = StreamServer((HOSTS[0], 0), self._handle)
        first.start()
        self.port = first.address[1]
        self._servers = [first] + [StreamServer((host, self.port), self._handle) for host in HOSTS[1:]]
        for server in self._servers[1:]:
            server.start()
        return self

    def __exit__(self, *exc):
        for server in self._servers:
            server.stop()

    def urls(self, per_host: int) -> list[str]:
        """``per_host`` targets on each host, the hosts interleaved."""
        return [f"http://{host}:{self.port}/?i={i}" for i in range(per_host) for host in HOSTS]

    def _handle(self, sock, address):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return
            data += chunk
        host = next(line.split(b":", 1)[1].strip().decode() for line in data.split(b"\r\n")
                    if line.lower().startswith(b"host:"))
        self.arrivals[host].append(time.monotonic())
        self.in_flight[host] += 1
        self.most_in_flight[host] = max(self.most_in_flight[host], self.in_flight[host])
        try:
            gevent.sleep(self.hold)
        finally:
            self.in_flight[host] -= 1
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        sock.close()


def sharded_crawl(broker, targets, **crawl):
    return make_crawl(targets, broker, crawl={"concurrency": 20, **crawl}, chunk_size=5, host_shards=HOST_SHARDS)


def test_per_host_concurrency_holds_across_two_workers_and_both_work(broker, start_workers):
    workers = start_workers(2, host_shards=HOST_SHARDS)
    with RecordingServer(hold=0.05) as server:
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
    with RecordingServer(hold=0) as server:
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
    with RecordingServer(hold=0.05) as server:
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

    with RecordingServer(hold=0) as server:
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
