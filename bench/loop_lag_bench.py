"""Benchmark: how far past ``crawl.timeout`` targets end when the machine's CPUs are overloaded (issue 13).

One command (``python bench/loop_lag_bench.py``): nginx on loopback answers every request only
after ``--hang`` seconds (longer than the timeout), so every target ends at its deadline; a
crawl of ``--targets`` such targets with ``timeout: 1`` records each one's ``total_ms``, and
the overrun is ``total_ms - 1000``. It runs once on the machine as it is and once with
``--overload`` busy-loop processes per CPU (each stops by itself after ``--overload-seconds``;
the work each does is drawn from a seeded generator, the seed is printed), alternating the
order each round. Prints p50, p99 and max overrun, and the count over 200 ms, for each.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crawl_bench import load, loopback_address, machine  # noqa: E402
from local_servers import free_port, nginx  # noqa: E402

TIMEOUT_S = 1


def busy_loop(seconds: float, seed: int) -> None:
    """Burn one CPU for ``seconds`` (then exit) doing seeded arithmetic."""
    rng = random.Random(seed)
    stop = time.monotonic() + seconds
    total = 0
    while time.monotonic() < stop:
        for _ in range(10_000):
            total += rng.randrange(1000)


def crawl_overruns(port: int, count: int, concurrency: int, folder: Path) -> list[float]:
    targets = folder / "targets.txt"
    targets.write_text("".join(f"http://{loopback_address(i)}:{port}/\n" for i in range(count)))
    results = folder / "results.jsonl"
    config = folder / "lag.yaml"
    config.write_text(
        json.dumps(
            {
                "crawl": {"concurrency": concurrency, "timeout": TIMEOUT_S, "workers": 1},
                "sources": [{"type": "file", "path": str(targets)}],
                "checks": [{"type": "status"}],
                "sinks": [{"type": "jsonl", "path": str(results)}],
            }
        )
    )
    subprocess.run([sys.executable, "-m", "healthcrawl", "run", "--quiet", str(config)], capture_output=True)
    records = [json.loads(line) for line in results.read_text().splitlines()]
    if len(records) != count:
        raise SystemExit(f"expected {count} results, got {len(records)}")
    return [record["timings"]["total_ms"] - TIMEOUT_S * 1000 for record in records]


def summary(overruns: list[float]) -> str:
    ordered = sorted(overruns)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    over = sum(1 for value in ordered if value > 200)
    return (
        f"p50 {statistics.median(ordered):7.1f} ms  p99 {p99:7.1f} ms  max {ordered[-1]:7.1f} ms  "
        f"over 200 ms: {over} of {len(ordered)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=1000)
    parser.add_argument("--hang", type=float, default=5.0, help="seconds nginx waits before answering")
    parser.add_argument("--overload", type=int, default=2, help="busy-loop processes per CPU")
    parser.add_argument("--overload-seconds", type=float, default=120.0)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"machine: {machine()}; {load()}; seed {seed}")
    port = free_port()
    runs: dict[str, list[float]] = {"as is": [], "overloaded": []}
    with tempfile.TemporaryDirectory(prefix="lag-bench-") as folder, nginx([port], [], ["127.0.0.1"], delay=args.hang):
        for round_number in range(args.rounds):
            order = ["as is", "overloaded"] if round_number % 2 == 0 else ["overloaded", "as is"]
            for mode in order:
                burners = []
                if mode == "overloaded":
                    burners = [
                        multiprocessing.Process(target=busy_loop, args=(args.overload_seconds, seed + index), daemon=True)
                        for index in range(args.overload * (os.cpu_count() or 1))
                    ]
                    for burner in burners:
                        burner.start()
                try:
                    overruns = crawl_overruns(port, args.targets, args.concurrency, Path(folder))
                finally:
                    for burner in burners:
                        burner.terminate()
                        burner.join()
                runs[mode] += overruns
                print(f"  {mode:<11} {summary(overruns)}", flush=True)
    for mode, overruns in runs.items():
        print(f"{mode:<11} {summary(overruns)}")
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
