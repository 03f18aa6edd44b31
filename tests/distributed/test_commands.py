"""``healthcrawl worker --processes N`` and ``healthcrawl workers`` against a real RabbitMQ."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from .conftest import WORKER_START_TIMEOUT, WORKER_STOP_TIMEOUT, chunk_consumers, wait_for

pytestmark = pytest.mark.slow


def healthcrawl(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "healthcrawl", *args], capture_output=True, text=True, timeout=120, **kwargs)


def test_worker_starts_n_processes_and_workers_lists_them(broker, tmp_path):
    log = open(tmp_path / "worker.log", "wb")
    # The broker comes from the environment, as in the systemd unit: the password stays out of `ps`.
    supervisor = subprocess.Popen(
        [sys.executable, "-m", "healthcrawl", "worker", "--processes", "2"],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "HEALTHCRAWL_BROKER": broker},
    )
    try:
        wait_for(
            lambda: (tmp_path / "worker.log").read_text().count(" ready.") == 2 and chunk_consumers(broker) == 2,
            WORKER_START_TIMEOUT, "2 worker processes connecting",
        )
        listed = healthcrawl("workers", "--broker", broker, "--timeout", "5")
        assert listed.returncode == 0, listed.stderr
        lines = listed.stdout.splitlines()
        assert lines[0] == f"2 workers connected to {broker.replace(':guest@', ':***@')}"
        assert all(line.startswith("  healthcrawl.") for line in lines[1:3])
        assert lines[3] == "healthcrawl.chunks: 0 chunks waiting, 2 consumers"
        assert lines[4] == "healthcrawl.shards.256.*: 0 chunks waiting in 256 shard queues"
    finally:
        supervisor.send_signal(signal.SIGTERM)
        try:
            code = supervisor.wait(timeout=WORKER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            subprocess.run(["pkill", "-KILL", "-P", str(supervisor.pid)])  # its children, by parent id
            supervisor.kill()
            code = f"still running after {WORKER_STOP_TIMEOUT:g} s"
        log.close()
        assert code == 0, (tmp_path / "worker.log").read_text()
    wait_for(lambda: chunk_consumers(broker) == 0, WORKER_STOP_TIMEOUT, "the worker processes disconnecting")
    assert "guest:guest" not in (tmp_path / "worker.log").read_text()


def test_worker_without_a_broker_says_how_to_give_one():
    environment = {k: v for k, v in os.environ.items() if k != "HEALTHCRAWL_BROKER"}
    result = healthcrawl("worker", env=environment)
    assert result.returncode == 2
    assert result.stderr == "error: --broker: an amqp:// URL is required (or set $HEALTHCRAWL_BROKER)\n"
