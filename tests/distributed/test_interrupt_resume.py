"""Interrupting a distributed run on the coordinator, then resuming it: exactly one result per target."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys

import pytest
import yaml

from healthcrawl.distributed.broker import make_app, results_queue_name
from healthcrawl.testing.servers import HTTPTestServer

from .conftest import wait_for

pytestmark = pytest.mark.slow

TARGETS = 2000


def stored(db) -> tuple[int, int]:
    if not db.exists():
        return (0, 0)
    with sqlite3.connect(db) as connection:
        try:
            return connection.execute("SELECT COUNT(*), COUNT(DISTINCT seq) FROM results").fetchone()
        except sqlite3.OperationalError:  # the table is not created yet
            return (0, 0)


def queue_exists(broker: str, name: str) -> bool:
    with make_app(broker).connection_for_write() as connection:
        try:
            connection.default_channel.queue_declare(queue=name, passive=True)
            return True
        except connection.channel_errors:
            return False


def test_interrupted_at_a_random_point_then_resumed(broker, start_workers, tmp_path):
    seed = random.randrange(1 << 30)
    print(f"seed {seed}")
    stop_after = random.Random(seed).randrange(100, TARGETS - 600)
    start_workers(2)
    db = tmp_path / "results.db"
    with HTTPTestServer() as server:
        server.route("/", delay=0.5)  # 80 targets in flight: the run takes about 12 s
        config = tmp_path / "crawl.yaml"
        config.write_text(yaml.safe_dump({
            "crawl": {"concurrency": 20, "distributed": {"broker": broker, "chunk_size": 20}},
            "sources": [{"type": "list", "targets": [server.url(f"/?i={i}") for i in range(TARGETS)]}],
            "checks": [{"type": "status"}],
            "sinks": [{"type": "sqlalchemy", "url": f"sqlite:///{db}"}],
        }))
        command = [sys.executable, "-m", "healthcrawl", "run", str(config)]
        coordinator = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ)
        wait_for(lambda: stored(db)[0] >= stop_after, 120, f"{stop_after} results stored")
        coordinator.send_signal(signal.SIGINT)
        out, err = coordinator.communicate(timeout=120)
        assert coordinator.returncode == 130, err
        run_id = out.split()[1]
        assert f"run {run_id} interrupted" in out
        assert not queue_exists(broker, results_queue_name(run_id))
        interrupted = stored(db)
        assert interrupted[0] == interrupted[1] < TARGETS

        resumed = subprocess.run(command + ["--resume"], capture_output=True, text=True, timeout=300, env=os.environ)

    assert resumed.returncode == 0, resumed.stderr
    assert f"run {run_id} completed" in resumed.stdout
    assert stored(db) == (TARGETS, TARGETS)
    with sqlite3.connect(db) as connection:
        assert connection.execute("SELECT MIN(seq), MAX(seq) FROM results").fetchone() == (0, TARGETS - 1)
