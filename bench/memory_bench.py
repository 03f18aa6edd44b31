"""Benchmark: peak RSS while crawling a million targets from a file (the issue's bound: 150 MB per process).

One command (``python bench/memory_bench.py``): starts nginx on loopback, writes N targets
(default 1,000,000, each a distinct 127.x.y.z address) to a file, crawls it with
``healthcrawl run`` and prints checks/s and the peak RSS of the largest healthcrawl process.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crawl_bench import loopback_address  # noqa: E402
from local_servers import free_port, nginx  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--workers", type=int, default=os.cpu_count())
    args = parser.parse_args()
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="memory-bench-") as folder, nginx([port], [], ["127.0.0.1"]):
        targets = Path(folder) / "targets.txt"
        with open(targets, "w") as out:
            for index in range(args.targets):
                out.write(f"http://{loopback_address(index)}:{port}/\n")
        config = Path(folder) / "crawl.json"
        config.write_text(json.dumps({
            "crawl": {"concurrency": args.concurrency, "workers": args.workers},
            "sources": [{"type": "file", "path": str(targets)}],
            "checks": [{"type": "status"}],
            "sinks": [{"type": "jsonl", "path": os.devnull}],
        }))
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "healthcrawl", "run", str(config)], stdout=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        elapsed = time.perf_counter() - started
        summary = process.stdout.read().decode()
    print(summary.strip())
    print(f"targets {args.targets}, workers {args.workers}, concurrency {args.concurrency}: "
          f"{args.targets / elapsed:.0f} checks/s over {elapsed:.0f} s; "
          f"peak RSS of the largest process {usage.ru_maxrss / 1024:.1f} MB; exit {os.waitstatus_to_exitcode(status)}")


if __name__ == "__main__":
    main()
