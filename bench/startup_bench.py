"""Benchmark: how long ``healthcrawl --help``, ``--version`` and ``check`` of one loopback target take to start.

One command (``python bench/startup_bench.py``): runs each command line ``--runs`` times in a fresh
process, alternating them, next to the peer ``python -c pass`` (the interpreter's own start-up), and
prints the median wall time and CPU time (user + system, of the child) of each, with its ratio to the
peer. ``check`` targets a small HTTP server on 127.0.0.1 (a thread of this process, not counted).

Each command first runs once to warm up: that writes the byte-code caches (even where
``PYTHONDONTWRITEBYTECODE`` is set, which would otherwise compile every module on each run, unlike
an installed healthcrawl) and the index of the plugins' commands that ``--help`` reads (in a
temporary ``XDG_CACHE_HOME``). The goals (issue 14): ``--help``, ``--version`` under 0.3 s wall,
``check`` under 0.6 s, on an otherwise idle machine; the load average is printed alongside.
"""

from __future__ import annotations

import argparse
import http.server
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path


class Quiet(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


def measure(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one run of ``command``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="runs of each command line (median kept; default 10)")
    parser.add_argument("--python", default=sys.executable, help="interpreter with healthcrawl installed")
    options = parser.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    target = f"http://127.0.0.1:{server.server_address[1]}/"
    healthcrawl = [options.python, "-m", "healthcrawl"]
    commands = {
        "python -c pass (peer)": [options.python, "-c", "pass"],
        "healthcrawl --help": [*healthcrawl, "--help"],
        "healthcrawl --version": [*healthcrawl, "--version"],
        "healthcrawl check TARGET": [*healthcrawl, "check", target],
    }
    with tempfile.TemporaryDirectory(prefix="startup-bench-") as cache:
        env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
        env["XDG_CACHE_HOME"] = cache
        for command in commands.values():
            measure(command, env)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(options.runs):
            for name, command in commands.items():
                times[name].append(measure(command, env))
    server.shutdown()

    load = os.getloadavg()[0]
    version = subprocess.run([options.python, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{version} on {platform.machine()}, {os.cpu_count()} cores, load average {load:.1f}; "
          f"median of {options.runs} runs")
    peer_wall = statistics.median(wall for wall, _ in times["python -c pass (peer)"])
    peer_cpu = statistics.median(cpu for _, cpu in times["python -c pass (peer)"])
    print(f"{'command':<26} {'wall s':>7} {'x peer':>7} {'CPU s':>7} {'x peer':>7}")
    for name, runs in times.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:<26} {wall:>7.3f} {wall / peer_wall:>7.1f} {cpu:>7.3f} {cpu / peer_cpu:>7.1f}")


if __name__ == "__main__":
    main()
