"""Benchmark: the CPU the parent of a forked multi-worker run spends, against its workers' CPU.

One command (``python bench/parent_cost_bench.py``): starts nginx (one worker) on loopback, writes
``--targets`` targets over distinct loopback addresses and runs ``healthcrawl run`` with
``crawl.workers: 2``, 256 in flight and a ``jsonl`` sink, ``--rounds`` times. Each run happens in a
fresh process that imports healthcrawl before its clock starts, so start-up is not counted; it
reports its own CPU (the parent: reading the source, sharing targets out, receiving results, the
writer) and its children's (the workers). The goal (issue 14): the parent at most 15% of the total.

Then, on the results of the last run, the cost of the frames that carry results from the workers to
the parent, per result, side by side: the package's encoding (a pickled batch of ``Result``
objects, ``forked.Channel``) and a compact candidate kept here only (each result as a tuple of
plain values in a ``marshal`` batch, rebuilt into ``Result`` objects by the parent).
"""

from __future__ import annotations

import argparse
import json
import marshal
import os
import pickle
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crawl_bench import write_targets  # noqa: E402
from local_servers import free_port, nginx  # noqa: E402

RUN = """
import json, resource, sys
from gevent import monkey
monkey.patch_all()
from healthcrawl.cli.main import main
import healthcrawl.crawl.engine, healthcrawl.crawl.executors.forked  # imported before the clock starts
before = resource.getrusage(resource.RUSAGE_SELF)
code = main(["run", "--quiet", sys.argv[1]])
after = resource.getrusage(resource.RUSAGE_SELF)
workers = resource.getrusage(resource.RUSAGE_CHILDREN)
parent = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
print(json.dumps({"code": code, "parent": parent, "workers": workers.ru_utime + workers.ru_stime}))
"""


def run_crawl(config: Path) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", RUN, str(config)], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"the run failed:\n{done.stdout}\n{done.stderr}")
    usage = json.loads(done.stdout.strip().splitlines()[-1])
    return {**usage, "wall": time.perf_counter() - started}


def compact_rows(results) -> bytes:
    """The bench-only candidate: each result as a tuple of plain values, the batch marshalled."""
    return marshal.dumps([
        (r.target, r.ok, r.error_kind, r.error, r.status_code, r.final_url, r.redirects, r.body_bytes,
         r.body_truncated, [(c.name, c.ok, c.detail) for c in r.checks],
         (r.timings.dns_ms, r.timings.connect_ms, r.timings.tls_ms, r.timings.ttfb_ms, r.timings.total_ms),
         None if r.tls is None else (r.tls.verified, r.tls.days_left, r.tls.not_after, r.tls.subject,
                                     r.tls.issuer, r.tls.sans, r.tls.version),
         r.started_at.timestamp(), r.finished_at.timestamp(), r.seq, r.attempts)
        for r in results
    ])


def from_compact_rows(data: bytes, run_id: str):
    from healthcrawl import CheckOutcome, Result, Timings, TlsInfo

    return [
        Result(target, run_id, ok, error_kind, error, status, final_url, redirects, size, truncated,
               tuple(CheckOutcome(*check) for check in checks), Timings(*timings),
               None if tls is None else TlsInfo(*tls[:5], tuple(tls[5]), tls[6]),
               datetime.fromtimestamp(started, timezone.utc), datetime.fromtimestamp(finished, timezone.utc), seq, attempts)
        for (target, ok, error_kind, error, status, final_url, redirects, size, truncated, checks, timings, tls,
             started, finished, seq, attempts) in marshal.loads(data)
    ]


def frame_costs(jsonl: Path, batch: int = 256, repeat: int = 20) -> list[tuple[str, float, float, float]]:
    """``(encoding, bytes, encode µs, decode µs)`` per result, over batches of the run's own results."""
    from healthcrawl import Result

    results = [Result.from_record(json.loads(line)) for line in jsonl.read_text().splitlines()]
    run_id = results[0].run_id
    results = [  # one run_id object and timezone.utc, as in a worker
        Result(**{**vars(result), "run_id": run_id, "started_at": result.started_at.astimezone(timezone.utc),
                  "finished_at": result.finished_at.astimezone(timezone.utc)})
        for result in results
    ]
    batches = [results[start:start + batch] for start in range(0, len(results), batch)]
    encodings = {
        "pickled Result batch (package)": (lambda b: pickle.dumps(b, pickle.HIGHEST_PROTOCOL), pickle.loads),
        "marshal rows (candidate)": (compact_rows, lambda data: from_compact_rows(data, run_id)),
    }
    rows = []
    for name, (encode, decode) in encodings.items():
        started = time.process_time()
        for _ in range(repeat):
            frames = [encode(b) for b in batches]
        encoded = time.process_time() - started
        started = time.process_time()
        for _ in range(repeat):
            decoded = [decode(frame) for frame in frames]
        decoded_time = time.process_time() - started
        assert [r for b in decoded for r in b] == results, name
        count = len(results) * repeat
        rows.append((name, sum(map(len, frames)) / len(results), encoded / count * 1e6, decoded_time / count * 1e6))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=5000, help="HTTP targets per run (default 5000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs (median kept; default 3)")
    options = parser.parse_args()

    port = free_port()
    with nginx([port], [], ["127.0.0.1"]), tempfile.TemporaryDirectory(prefix="parent-cost-") as folder:
        root = Path(folder)
        write_targets(root / "targets.txt", "http", port, options.targets)
        config = root / "crawl.yaml"
        config.write_text(json.dumps({
            "crawl": {"concurrency": 256, "workers": 2},
            "sources": [{"type": "file", "path": str(root / "targets.txt")}],
            "checks": [{"type": "status"}, {"type": "tls_expiry"}],
            "sinks": [{"type": "jsonl", "path": str(root / "results.jsonl")}],
        }))
        runs = []
        for _ in range(options.rounds):
            (root / "results.jsonl").unlink(missing_ok=True)
            runs.append(run_crawl(config))
            run = runs[-1]
            share = run["parent"] / (run["parent"] + run["workers"])
            print(f"  parent {run['parent']:.2f} CPU-s, workers {run['workers']:.2f} CPU-s, parent {share:.1%}, "
                  f"{options.targets / run['wall']:.0f} checks/s", flush=True)
        costs = frame_costs(root / "results.jsonl")

    share = statistics.median(run["parent"] / (run["parent"] + run["workers"]) for run in runs)
    parent = statistics.median(run["parent"] for run in runs)
    print(f"\n{options.targets} HTTP targets, workers: 2, 256 in flight, jsonl sink; {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; median of {options.rounds} runs")
    print(f"parent: {parent:.2f} CPU-s = {share:.1%} of the run's CPU (goal: at most 15%), "
          f"{parent / options.targets * 1e6:.0f} µs per result")
    print(f"\n{'frames of 256 results':<32} {'bytes':>6} {'encode µs':>10} {'decode µs':>10}  (per result)")
    for name, size, encode, decode in costs:
        print(f"{name:<32} {size:>6.0f} {encode:>10.1f} {decode:>10.1f}")


if __name__ == "__main__":
    main()
