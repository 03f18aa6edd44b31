"""Benchmark: the parent's peak RSS when resuming a 1,000,000-target run (the issue's bound: 150 MB).

``python bench/resume_memory_bench.py`` builds an interrupted run in SQLite without crawling
a million URLs: a file of N targets (default 1,000,000) and, through ``ResultStore``, a stored
result for all but every ``--every``-th of them (default: 990,000 done, 10,000 left). Then,
each in a fresh process whose peak RSS is read from the kernel:

- bitmap (today): ``DatabaseSink.find_resume`` reads the done sequence numbers in order into a
  ``SeqSet``, then the N targets of the config's sources are walked, skipping the done ones;
- URL set (before): a Python set of every finished target URL is read from the same database,
  then the same N targets are walked, skipping those in the set;
- the real thing: ``healthcrawl run CONFIG --resume RUN_ID`` (one process, ``workers: 1``),
  which crawls the targets left against a loopback server (a thread of this script) and completes
  the run.

Prints each figure in MB and the ratios. Nothing leaves the machine. This script itself imports
only the standard library and does all of its work in child processes: Linux carries the
parent's peak RSS over into a child's (across fork and exec), so a big parent would inflate
every figure.
"""

from __future__ import annotations

import argparse
import http.server
import itertools
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

RUN_ID = "bench0resume0memory0000000000000"
BATCH = 10_000
BOUND_MB = 150


def peak_mb() -> float:
    """This process's peak RSS so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def prepare(folder: Path, targets: int, every: int, port: int) -> None:
    """Write the targets file, ``crawl.json``, and the interrupted run with every target but each ``every``-th done."""
    from healthcrawl import CrawlSettings, Result, RunInfo, Timings
    from healthcrawl.plugins.database.storage.engines import open_engine
    from healthcrawl.plugins.database.storage.store import ResultStore

    url = f"http://127.0.0.1:{port}/n"
    with open(folder / "targets.txt", "w") as out:
        out.writelines(f"{url}{seq}\n" for seq in range(targets))
    config = folder / "crawl.json"
    config.write_text(json.dumps({
        "crawl": {"workers": 1, "concurrency": 64, "timeout": 30},
        "sources": [{"type": "file", "path": "targets.txt"}],
        "checks": [{"type": "status"}],
        "sinks": [{"type": "sqlalchemy", "url": f"sqlite:///{folder}/resume.db", "spool_dir": str(folder / "spool")}],
    }))
    engine = open_engine(f"sqlite:///{folder}/resume.db")
    store = ResultStore(engine)
    store.prepare()
    now = datetime.now(timezone.utc)
    store.start_run(RunInfo(RUN_ID, str(config), now, CrawlSettings(workers=1)))
    done = (seq for seq in range(targets) if seq % every)
    while batch := list(itertools.islice(done, BATCH)):
        store.insert(store.batch([
            Result(target=f"{url}{seq}", run_id=RUN_ID, ok=True, error_kind=None, error=None, status_code=200,
                   final_url=f"{url}{seq}", redirects=0, body_bytes=2, body_truncated=False, checks=(),
                   timings=Timings(0.1, 0.2, None, 0.5, 1.0), tls=None, started_at=now, finished_at=now, seq=seq)
            for seq in batch
        ]))
    store.finish_run(RUN_ID, "interrupted")
    engine.dispose()


def measure(approach: str, config_path: str) -> dict:
    """In this (fresh) process: peak RSS after loading the config, after reading what is done, after the walk."""
    from gevent import monkey

    monkey.patch_all()  # as the healthcrawl command does

    from sqlalchemy import select

    import healthcrawl.plugins.database.storage.migrations  # noqa: F401  what find_resume imports, for every approach:
    import healthcrawl.plugins.database.storage.replay  # noqa: F401  the figures then differ by data, not by code
    from healthcrawl import ComponentContext
    from healthcrawl.configuration.loading import load_config
    from healthcrawl.plugin_system.manager import get_plugin_manager
    from healthcrawl.plugin_system.registry import ComponentRegistry
    from healthcrawl.plugins.database.sink import DatabaseSink
    from healthcrawl.plugins.database.storage.engines import open_engine
    from healthcrawl.plugins.database.storage.history import STREAM_ROWS
    from healthcrawl.plugins.database.storage.schema import ResultRow

    config = load_config(config_path, ComponentRegistry.from_plugins(get_plugin_manager()))
    sink = config.sinks[0]
    context = ComponentContext(base_dir=config.base_dir, run_id=RUN_ID, settings=config.settings)
    sources = [spec.type.cls.from_config(spec.options, context) for spec in config.sources]
    figures = {"floor": peak_mb()}  # the same code loaded for both approaches, nothing read yet
    started = time.perf_counter()
    if approach == "bitmap":
        done = DatabaseSink.find_resume(sink.options, config.name, RUN_ID).done
        is_done = lambda seq, target: seq in done  # noqa: E731
    else:  # the approach before sequence numbers: every finished URL in a set
        engine = open_engine(sink.options["url"])
        query = select(ResultRow.target).where(ResultRow.run_id == RUN_ID).execution_options(yield_per=STREAM_ROWS)
        with engine.connect() as connection:
            done = set(connection.execute(query).scalars())
        engine.dispose()
        is_done = lambda seq, target: target.url in done  # noqa: E731
    figures.update(read=peak_mb(), read_s=time.perf_counter() - started, done=len(done))
    started = time.perf_counter()
    left = seq = 0
    for source in sources:
        for target in source.targets():
            left += not is_done(seq, target)
            seq += 1
    figures.update(walk=peak_mb(), walk_s=time.perf_counter() - started, walked=seq, left=left)
    return figures


def in_child(*args: str) -> str:
    """Run this script with ``args`` in a child process; its standard output."""
    return subprocess.run([sys.executable, __file__, *args], check=True, capture_output=True, text=True).stdout


def real_resume(config: Path, folder: Path) -> tuple[float, float]:
    """``healthcrawl run --resume`` in its own process: its peak RSS (MB) and seconds."""
    started = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "healthcrawl", "run", str(config), "--resume", RUN_ID, "-q"],
                               cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"the resume failed: {process.stderr.read().decode().strip()}")
    return usage.ru_maxrss / 1024, elapsed


class OkHandler(http.server.BaseHTTPRequestHandler):
    """Answers every GET with 200 and ``ok``."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format, *args) -> None:
        pass


def stored(folder: Path) -> tuple[str, int]:
    """The run's state and how many results it has (read with the standard library's sqlite3)."""
    with sqlite3.connect(folder / "resume.db") as connection:
        (state,), = connection.execute("SELECT state FROM runs WHERE id = ?", (RUN_ID,))
        (count,), = connection.execute("SELECT count(*) FROM results WHERE run_id = ?", (RUN_ID,))
    return state, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1_000_000, help="targets in the run (default 1000000)")
    parser.add_argument("--every", type=int, default=100,
                        help="every N-th target is left to do, the others are done (default 100)")
    parser.add_argument("--measure", nargs=2, metavar=("APPROACH", "CONFIG"), help=argparse.SUPPRESS)
    parser.add_argument("--prepare", nargs=2, metavar=("FOLDER", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    if args.prepare:
        prepare(Path(args.prepare[0]), args.targets, args.every, int(args.prepare[1]))
        return

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OkHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory(prefix="resume-memory-") as name:
        folder = Path(name)
        started = time.perf_counter()
        in_child("--prepare", str(folder), str(server.server_address[1]), "--targets", str(args.targets),
                 "--every", str(args.every))
        config = folder / "crawl.json"
        print(f"prepared {args.targets:,} targets, {args.targets - len(range(0, args.targets, args.every)):,} "
              f"with a stored result, in {time.perf_counter() - started:.0f} s")
        results = {approach: json.loads(in_child("--measure", approach, str(config)))
                   for approach in ("bitmap", "url_set")}
        real_mb, real_s = real_resume(config, folder)
        state, count = stored(folder)
    server.shutdown()
    print(f"(this script's own peak RSS, a lower bound of every figure below: {peak_mb():.1f} MB)")

    new, old = results["bitmap"], results["url_set"]
    assert new["walked"] == old["walked"] == args.targets and new["left"] == old["left"], (new, old)
    print("peak RSS of one process, MB")
    print(f"{'phase':<36}{'bitmap (seq)':>14}{'URL set (old)':>15}{'old/new':>9}")
    for phase, label in (("floor", "code and config loaded"), ("read", f"reading {new['done']:,} done"),
                         ("walk", f"walking {new['walked']:,} targets")):
        print(f"{label:<36}{new[phase]:>14.1f}{old[phase]:>15.1f}{old[phase] / new[phase]:>8.1f}x")
    grow_new, grow_old = new["walk"] - new["floor"], old["walk"] - old["floor"]
    print(f"{'growth (walk - code and config)':<36}{grow_new:>14.1f}{grow_old:>15.1f}{grow_old / max(grow_new, 0.1):>8.1f}x")
    print(f"{'seconds to read + walk':<36}{new['read_s'] + new['walk_s']:>14.1f}{old['read_s'] + old['walk_s']:>15.1f}")
    verdict = "under" if real_mb < BOUND_MB else "OVER"
    print(f"healthcrawl run --resume ({new['left']:,} targets crawled, workers 1): parent peak RSS {real_mb:.1f} MB, "
          f"{verdict} the {BOUND_MB} MB bound; {real_s:.0f} s; run {state} with {count:,} results")


if __name__ == "__main__":
    main()
