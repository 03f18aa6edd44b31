"""Worker processes that die, and a parent that dies: nothing lost, nothing left behind.

Faults are caused for real: ``kill -9`` (or SIGTERM) of a worker mid-run, ``kill -9`` of the parent.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import gevent
import pytest

from healthcrawl.testing.crawl import run_crawl_outcome
from healthcrawl.testing.servers import HTTPTestServer

PATIENCE = 60  # seconds: a generous bound for a loaded machine, never a measure of speed


def children(pid: int) -> list[int]:
    """The live (not zombie) child processes of ``pid``."""
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            if not exited(int(child)):
                found.append(int(child))
    return found


def exited(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def wait_for(condition, what: str) -> None:
    with gevent.Timeout(PATIENCE, AssertionError(f"not within {PATIENCE} s: {what}")):
        while not condition():
            gevent.sleep(0.02)


@pytest.mark.parametrize("signum", [signal.SIGKILL, signal.SIGTERM])
def test_a_worker_that_dies_mid_run_has_its_targets_checked_by_the_other(signum):
    with HTTPTestServer() as server:
        server.route("/", delay=0.05)
        targets = [server.url("/") + f"?n={i}" for i in range(400)]
        killed = []

        def kill_one_worker():
            wait_for(lambda: sum(server.hits.values()) >= 60 and len(children(os.getpid())) == 2, "workers busy")
            victim = children(os.getpid())[0]
            os.kill(victim, signum)
            killed.append(victim)

        killer = gevent.spawn(kill_one_worker)
        outcome, records = run_crawl_outcome({
            "crawl": {"workers": 2, "concurrency": 32, "timeout": 30},
            "sources": [{"type": "list", "targets": targets}],
            "checks": [{"type": "status"}],
        })
        killer.get()
    seqs = sorted(record["seq"] for record in records)
    assert seqs == list(range(400))  # every target exactly once
    assert outcome.state == "completed" and outcome.summary.ok == 400
    (incident,) = outcome.summary.incidents
    assert incident.startswith(f"worker {killed[0]} died") and "went to the other workers" in incident
    assert "incidents:" in outcome.summary.render()


def test_workers_end_when_their_parent_is_killed(tmp_path):
    with HTTPTestServer() as server:
        server.route("/slow", delay=600)
        config = tmp_path / "crawl.json"
        config.write_text(json.dumps({
            "crawl": {"workers": 2, "concurrency": 8, "timeout": 900},
            "sources": [{"type": "list", "targets": [server.url("/slow") + f"?n={i}" for i in range(20)]}],
        }))
        parent = subprocess.Popen([sys.executable, "-m", "healthcrawl", "run", str(config)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        workers: list[int] = []
        try:
            wait_for(lambda: server.hits["/slow"] >= 8 and len(children(parent.pid)) == 2, "both workers fetching")
            workers = children(parent.pid)
            parent.kill()
            parent.wait()
            wait_for(lambda: all(exited(pid) for pid in workers), f"workers {workers} gone after their parent")
        finally:
            parent.kill()
            for pid in workers:  # never leave a stray process behind a failed test
                if not exited(pid):
                    os.kill(pid, signal.SIGKILL)
