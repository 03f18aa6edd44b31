"""Fixtures for distributed crawls: a RabbitMQ virtual host per test and real ``healthcrawl worker`` processes.

RabbitMQ must listen on 127.0.0.1:5672 with the guest account (``.ci/run`` starts it); without it
these tests skip, or fail under ``HEALTHCRAWL_REQUIRE_SERVICES=1``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from healthcrawl.configuration.loading import build_config
from healthcrawl.crawl.engine import Crawl
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.plugin_system.registry import ComponentRegistry
from healthcrawl.testing.collector import ResultCollector
from tests.conftest import require_service  # the HEALTHCRAWL_REQUIRE_SERVICES rule

RABBITMQ = "amqp://guest:guest@127.0.0.1:5672"
WORKER_START_TIMEOUT = 90.0
WORKER_STOP_TIMEOUT = 60.0


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=120)


@pytest.fixture
def broker():
    """The amqp:// URL of a fresh virtual host, deleted (with its queues) after the test."""
    require_service("RabbitMQ", RABBITMQ)
    vhost = f"healthcrawl-test-{uuid.uuid4().hex[:12]}"
    rabbitmqctl("add_vhost", vhost)
    try:
        rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        yield f"{RABBITMQ}/{vhost}"
    finally:
        rabbitmqctl("delete_vhost", vhost)


class WorkerProcess:
    """One ``healthcrawl worker --processes 1`` subprocess; its log goes to a file the test can read."""

    def __init__(self, broker: str, log_path: Path, env: dict[str, str] | None = None, chunks: int = 2,
                 host_shards: int = 256):
        self.log_path = log_path
        self._log = open(log_path, "wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "healthcrawl", "worker", "--broker", broker, "--processes", "1",
             "--chunks", str(chunks), "--host-shards", str(host_shards), "--loglevel", "INFO"],
            stdout=self._log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
        )

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def chunks_running(self) -> int:
        """Chunks Celery logged as received and not yet as finished."""
        log = self.log()
        return log.count("] received") - log.count("] succeeded in") - log.count("] rejected")

    def ready(self) -> bool:
        """Whether Celery says the worker is ready (its signal handlers installed, consuming)."""
        return " ready." in self.log()

    def kill(self) -> None:
        """``kill -9``: the process gets no chance to return its chunks."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=WORKER_STOP_TIMEOUT)

    def terminate(self) -> None:
        """SIGTERM: Celery's warm shutdown (running chunks finish); ``wait`` for it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def wait(self) -> None:
        try:
            self.process.wait(timeout=WORKER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def chunk_consumers(broker: str) -> int:
    """How many worker processes consume the chunk queue now."""
    from healthcrawl.distributed.broker import CHUNK_QUEUE, make_app

    with make_app(broker).connection_for_write() as connection:
        try:
            return connection.default_channel.queue_declare(queue=CHUNK_QUEUE, passive=True).consumer_count
        except connection.channel_errors:  # not declared yet: no worker has started
            return 0


def make_crawl(targets, broker, manager=None, checks=None, crawl=None, sinks=(), **distributed) -> tuple[Crawl, ResultCollector]:
    manager = manager or get_plugin_manager()
    data = {
        "crawl": {"concurrency": 50, "timeout": 10, **(crawl or {}),
                  "distributed": {"broker": broker, "chunk_size": 50, **distributed}},
        "sources": [{"type": "list", "targets": targets}],
        "checks": checks if checks is not None else [{"type": "status"}],
        "sinks": list(sinks),
    }
    collector = ResultCollector()
    config = build_config(data, ComponentRegistry.from_plugins(manager), name="test")
    return Crawl(config, manager, extra_sinks=[collector]), collector


def install_plugin(folder: Path, monkeypatch, module: str, source: str) -> dict[str, str]:
    """Install ``source`` as the plugin module ``module`` (version 1.0) for this test only, as a dist-info in
    ``folder`` on sys.path; returns the environment worker processes need to load it too (the run's
    config digest holds the coordinator's plugins: workers must have the same)."""
    (folder / f"{module}.py").write_text(source)
    dist = folder / f"{module}-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module.replace('_', '-')}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[healthcrawl]\n{module} = {module}\n")
    monkeypatch.syspath_prepend(str(folder))
    return {"PYTHONPATH": str(folder)}


def wait_for(condition, timeout: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail with ``what`` after ``timeout`` seconds (a generous bound)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {timeout:g} s")
        time.sleep(0.2)


@pytest.fixture
def start_workers(broker, tmp_path):
    """``start_workers(n, env=..., host_shards=...)`` starts n worker processes and waits until each consumes
    the chunk queue (after its shard queues: a worker subscribes to those first)."""
    started: list[WorkerProcess] = []

    def start(count: int, env: dict[str, str] | None = None, chunks: int = 2, host_shards: int = 256) -> list[WorkerProcess]:
        before = chunk_consumers(broker)
        workers = [
            WorkerProcess(broker, tmp_path / f"worker-{len(started) + i}.log", env, chunks, host_shards)
            for i in range(count)
        ]
        started.extend(workers)
        wait_for(
            lambda: all(w.ready() for w in workers) and chunk_consumers(broker) >= before + count,
            WORKER_START_TIMEOUT, f"{count} workers connecting",
        )
        return workers

    yield start
    for worker in started:  # the test is over and its virtual host goes next: no need for a warm shutdown
        if worker.process.poll() is None:
            worker.kill()
        worker.wait()
