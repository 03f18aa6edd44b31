"""The progress bar: drawn on a terminal (tested through a pty), never into a pipe or with --quiet."""

import json
import os
import pty
import select
import subprocess
import sys

from healthcrawl.testing.servers import HTTPTestServer


def run_cli(args, terminal):
    """Run ``healthcrawl ARGS`` with stderr on a pty (``terminal``) or a pipe; return what stderr showed."""
    if not terminal:
        return subprocess.run([sys.executable, "-m", "healthcrawl", *args], capture_output=True, text=True, timeout=60).stderr
    leader, follower = pty.openpty()
    child = subprocess.Popen([sys.executable, "-m", "healthcrawl", *args], stdout=subprocess.DEVNULL, stderr=follower)
    os.close(follower)
    shown = b""
    while True:
        readable, _, _ = select.select([leader], [], [], 30)  # cooperative: the test server keeps serving
        if not readable:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        shown += data
    child.wait(timeout=30)
    os.close(leader)
    return shown.decode()


def write_config(tmp_path, targets):
    config = tmp_path / "crawl.json"
    config.write_text(json.dumps({
        "crawl": {"workers": 1},
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "status"}],
    }))
    return str(config)


def test_a_terminal_gets_done_of_total_rate_eta_and_counts(tmp_path):
    with HTTPTestServer() as server:
        config = write_config(tmp_path, [server.url("/") + f"?{i}" for i in range(30)] + [server.url("/missing")])
        shown = run_cli(["run", config], terminal=True)
    last = [part for part in shown.split("\r") if part.strip()][-1]
    assert "31/31" in last and "100%" in last and "/s" in last and "ETA" in last, shown
    assert "ok 30" in last and "failed 1" in last, shown


def test_nothing_is_drawn_into_a_pipe_or_with_quiet(tmp_path):
    with HTTPTestServer() as server:
        config = write_config(tmp_path, [server.url("/")])
        piped = run_cli(["run", config], terminal=False)
        quiet = run_cli(["run", "--quiet", config], terminal=True)
    assert "ETA" not in piped and "/s" not in piped
    assert quiet == ""
