"""Distributed crawls when things go wrong: a worker killed, a check that raises, a chunk past its deadline,
a worker that cannot run the config, and a pickled message (a redis broker: see test_settings)."""

from __future__ import annotations

import pickle
import sqlite3
import textwrap
import uuid

import gevent
import gevent.event
import pytest
from gevent.pywsgi import WSGIServer
from kombu import Producer

from healthcrawl.distributed.broker import CHUNK_QUEUE, CHUNK_TASK, make_app, shard_queue
from healthcrawl.plugin_system.manager import create_plugin_manager
from healthcrawl.testing.servers import HTTPTestServer

from .conftest import install_plugin, make_crawl, rabbitmqctl, wait_for

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("stop", ["kill -9", "SIGTERM"])
def test_a_worker_stopped_mid_run_loses_nothing_and_doubles_nothing(stop, broker, start_workers, tmp_path):
    """``kill -9``: the worker's chunks are redelivered to the other one. SIGTERM: Celery's warm shutdown,
    running chunks finish and prefetched ones go back to the queue."""
    workers = start_workers(2)
    db = tmp_path / "results.db"
    with HTTPTestServer() as server:
        server.route("/", delay=0.05)
        targets = [server.url(f"/?i={i}") for i in range(2000)]
        crawl, collector = make_crawl(targets, broker, sinks=[{"type": "sqlalchemy", "url": f"sqlite:///{db}"}])
        running = gevent.spawn(crawl.run, handle_signals=False)
        wait_for(lambda: len(collector.results) >= 300 and "healthcrawl.chunk" in workers[0].log(), 120, "progress")
        if stop == "kill -9":
            workers[0].kill()
        else:
            workers[0].terminate()
            workers[0].process.wait(timeout=120)
        outcome = running.get(timeout=300)

    assert outcome.state == "completed", outcome.error
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*), COUNT(DISTINCT seq) FROM results").fetchone() == (2000, 2000)
    assert sorted(r.seq for r in collector.results) == list(range(2000))
    assert all(r.ok for r in collector.results)
    if stop == "kill -9":
        assert crawl.executor.counters.redelivered >= 1
        assert "was redelivered" in workers[1].log()
    else:
        assert "Warm shutdown" in workers[0].log()


RAISING_CHECK = textwrap.dedent('''
    from healthcrawl import Check, hookimpl

    class Raising(Check):
        type_name = "raising"

        def evaluate(self, snapshot):
            raise RuntimeError("this check always raises")

    @hookimpl
    def healthcrawl_register_checks(register):
        register(Raising)
''')


@pytest.fixture
def raising_check_plugin(tmp_path, monkeypatch):
    """A third-party plugin installed for this test only: its check raises."""
    return install_plugin(tmp_path, monkeypatch, "raising_check", RAISING_CHECK)


def test_a_check_that_raises_fails_only_that_check(broker, start_workers, raising_check_plugin):
    start_workers(1, env=raising_check_plugin)
    with HTTPTestServer() as server:
        targets = [server.url(f"/?i={i}") for i in range(120)]
        crawl, collector = make_crawl(targets, broker, manager=create_plugin_manager(),
                                      checks=[{"type": "status"}, {"type": "raising"}])
        outcome = crawl.run(handle_signals=False)

    assert outcome.state == "completed", outcome.error
    assert sorted(r.seq for r in collector.results) == list(range(120))
    for result in collector.results:
        assert not result.ok and result.error_kind is None
        assert [(c.name, c.ok) for c in result.checks] == [("status", True), ("raising", False)]
        assert result.checks[1].detail == "check raised RuntimeError: this check always raises"


def test_a_chunk_past_its_deadline_reports_its_unfinished_targets(broker, start_workers):
    start_workers(1)
    with HTTPTestServer() as server:
        server.route("/slow", delay=20)
        targets = [server.url(f"/?i={i}") for i in range(20)] + [server.url(f"/slow?i={i}") for i in range(5)]
        crawl, collector = make_crawl(targets, broker, crawl={"timeout": 30}, chunk_deadline=1)
        outcome = crawl.run(handle_signals=False)

    assert outcome.state == "completed", outcome.error
    assert sorted(r.seq for r in collector.results) == list(range(25))
    slow = [r for r in collector.results if "/slow" in r.target]
    assert {(r.error_kind, r.error) for r in slow} == {
        ("internal_error", "the chunk's deadline of 1 s passed before this target was checked")
    }
    assert all(r.ok for r in collector.results if "/slow" not in r.target)


def test_a_worker_with_other_plugins_refuses_and_the_coordinator_says_so(broker, start_workers):
    workers = start_workers(1, env={"HEALTHCRAWL_DISABLE_PLUGINS": "healthcrawl.plugins.sinks.jsonl"})
    crawl, collector = make_crawl(["http://127.0.0.1:9/"], broker)
    outcome = crawl.run(handle_signals=False)

    assert outcome.state == "failed"
    assert outcome.error.startswith("no worker can run this config: chunk 0 was refused 3 times")
    assert "plugins missing here: healthcrawl.plugins.sinks.jsonl" in outcome.error
    assert collector.results == []
    assert "refusing chunk 0 of run" in workers[0].log()


class _OpensAFile:
    """Unpickling this creates a file: the proof that a worker ran pickle."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("queue", [CHUNK_QUEUE, shard_queue(3, 8).name])
def test_a_pickled_chunk_is_never_unpickled(queue, broker, start_workers, tmp_path):
    """Neither on the shared chunk queue nor on a host-shard queue (consumed outside Celery's own consumer)."""
    workers = start_workers(1, host_shards=8)
    evidence = tmp_path / "unpickled"
    with make_app(broker).connection_for_write() as connection:
        Producer(connection.default_channel).publish(
            pickle.dumps(((_OpensAFile(evidence),), {}, {})), exchange="", routing_key=queue,
            content_type="application/x-python-serialize", content_encoding="binary",
            headers={"task": CHUNK_TASK, "id": str(uuid.uuid4()), "lang": "py", "argsrepr": "", "kwargsrepr": ""},
        )
    wait_for(lambda: "ContentDisallowed" in workers[0].log(), 60, "the worker refusing the pickled message")
    assert not evidence.exists()
    assert workers[0].process.poll() is None


def test_broker_connections_closed_mid_run_lose_nothing_and_double_nothing(broker, start_workers, tmp_path):
    """The connections are closed while both workers hold chunks: a server holds every request to
    ``/held`` until the connections are gone, so those chunks cannot have been acked before."""
    start_workers(2)
    db = tmp_path / "results.db"
    vhost = broker.rsplit("/", 1)[1]
    release = gevent.event.Event()
    held = []

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/held":
            held.append(environ["QUERY_STRING"])
            release.wait(120)
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
        return [b"ok"]

    server = WSGIServer(("127.0.0.1", 0), app, log=None, error_log=None)
    server.start()
    try:
        base = f"http://127.0.0.1:{server.server_port}"
        targets = [f"{base}/?i={i}" for i in range(300)] + [f"{base}/held?i={i}" for i in range(300, 1500)]
        crawl, collector = make_crawl(
            targets, broker, crawl={"timeout": 150}, sinks=[{"type": "sqlalchemy", "url": f"sqlite:///{db}"}],
            chunk_deadline=300,
        )
        running = gevent.spawn(crawl.run, handle_signals=False)
        wait_for(lambda: len(collector.results) >= 250 and len(held) >= 50, 120, "results back and chunks held")
        rabbitmqctl("close_all_connections", "-p", vhost, "healthcrawl test: connections closed mid-run")
        release.set()
        outcome = running.get(timeout=300)
    finally:
        release.set()
        server.stop()

    assert outcome.state == "completed", outcome.error
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT COUNT(*), COUNT(DISTINCT seq) FROM results").fetchone() == (1500, 1500)
    assert sorted(r.seq for r in collector.results) == list(range(1500))
    assert crawl.executor.counters.redelivered >= 1  # the chunks held came back through RabbitMQ
    assert crawl.executor.counters.resent == 0  # not through the coordinator's reconciliation


def test_an_unreachable_broker_fails_the_run_with_a_masked_url():
    crawl, collector = make_crawl(["http://127.0.0.1:9/"], "amqp://guest:s3cret@127.0.0.1:1/nowhere")
    outcome = crawl.run(handle_signals=False)

    assert outcome.state == "failed"
    assert outcome.error.startswith("cannot reach the broker amqp://guest:***@127.0.0.1:1/nowhere: ")
    assert "s3cret" not in outcome.error
    assert collector.results == []


def purge_chunks_when_queued(broker: str, count: int) -> None:
    """Wait until ``count`` chunks wait in the chunk queue, then purge it: the chunks are lost."""

    def queued() -> int:
        with make_app(broker).connection_for_write() as connection:
            try:
                return connection.default_channel.queue_declare(queue=CHUNK_QUEUE, passive=True).message_count
            except connection.channel_errors:
                return 0

    wait_for(lambda: queued() >= count, 60, f"{count} chunks queued")
    with make_app(broker).connection_for_write() as connection:
        connection.default_channel.queue_purge(CHUNK_QUEUE)


def test_lost_chunks_are_sent_again_then_answered(broker, start_workers):
    with HTTPTestServer() as server:
        crawl, collector = make_crawl([server.url(f"/?i={i}") for i in range(100)], broker, chunk_deadline=1)
        running = gevent.spawn(crawl.run, handle_signals=False)
        purge_chunks_when_queued(broker, 2)  # no worker yet: both chunks wait, then vanish
        start_workers(1)
        outcome = running.get(timeout=120)

    assert outcome.state == "completed", outcome.error
    assert crawl.executor.counters.resent == 2
    assert sorted(r.seq for r in collector.results) == list(range(100))
    assert all(r.ok for r in collector.results)


def test_chunks_lost_max_attempts_times_are_recorded_as_internal_errors(broker):
    crawl, collector = make_crawl([f"http://127.0.0.1:9/{i}" for i in range(100)], broker, chunk_deadline=1, max_attempts=1)
    running = gevent.spawn(crawl.run, handle_signals=False)
    purge_chunks_when_queued(broker, 2)
    outcome = running.get(timeout=120)

    assert outcome.state == "completed", outcome.error
    assert sorted(r.seq for r in collector.results) == list(range(100))
    assert {(r.error_kind, r.error) for r in collector.results} == {
        ("internal_error", "no worker answered this target's chunk (attempts: 1)")
    }
