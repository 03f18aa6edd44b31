"""Benchmark: the same healthcrawl crawl under each Python interpreter given (3.11, 3.12, 3.13, ...).

One command: ``python bench/python_versions_bench.py .venv/bin/python .venv3.12/bin/python ...``, each
interpreter from a venv with healthcrawl installed (``pip install -e '.[test]'``). Starts nginx (one
worker) on loopback for HTTP and HTTPS, writes the targets over distinct loopback addresses (as
``crawl_bench.py`` does) and runs ``healthcrawl run`` (one worker process, 256 in flight, the status
and tls_expiry checks) with each interpreter in turn, the order reversed every round. Prints, per
interpreter and scheme, the median checks/s and CPU seconds per 1,000 checks (user + system of the
whole run, start-up included), and each interpreter's ratio to the first one.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from crawl_bench import loopback_address, write_targets  # noqa: E402
from local_servers import free_port, nginx  # noqa: E402


ENV = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}
"""Byte-code caches written, as for an installed healthcrawl."""


def run(python: str, config: Path, count: int) -> tuple[float, float]:
    """checks/s and CPU seconds per 1,000 checks of one ``healthcrawl run``."""
    started = time.perf_counter()
    process = subprocess.Popen([python, "-m", "healthcrawl", "run", "--quiet", str(config)], stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{python} failed: {process.stderr.read().decode()}")
    return count / elapsed, (usage.ru_utime + usage.ru_stime) / count * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pythons", nargs="+", help="interpreters (each with healthcrawl installed)")
    parser.add_argument("--http", type=int, default=5000, help="HTTP targets per run (default 5000)")
    parser.add_argument("--https", type=int, default=1000, help="HTTPS targets per run (default 1000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each interpreter per scheme (median kept)")
    options = parser.parse_args()

    versions = {
        python: subprocess.run([python, "--version"], capture_output=True, text=True, check=True).stdout.strip()
        for python in options.pythons
    }
    port, tls_port = free_port(), free_port()
    schemes = {"http": (options.http, port), "https": (options.https, tls_port)}
    schemes = {scheme: spec for scheme, spec in schemes.items() if spec[0]}
    measured: dict[tuple[str, str], list[tuple[float, float]]] = {}
    tls_addresses = [loopback_address(index) for index in range(options.https)] or ["127.0.0.1"]
    with nginx([port], [tls_port], tls_addresses) as bundle, tempfile.TemporaryDirectory(prefix="pyversions-") as folder:
        root = Path(folder)
        configs = {}
        for scheme, (count, scheme_port) in schemes.items():
            write_targets(root / f"{scheme}.txt", scheme, scheme_port, count)
            configs[scheme] = root / f"{scheme}.yaml"
            configs[scheme].write_text(json.dumps({
                "crawl": {"concurrency": 256, "verify": bundle, "workers": 1},
                "sources": [{"type": "file", "path": str(root / f"{scheme}.txt")}],
                "checks": [{"type": "status"}, {"type": "tls_expiry"}],
            }))
        for python in options.pythons:  # a first run each writes the byte-code caches
            run(python, configs[next(iter(schemes))], schemes[next(iter(schemes))][0])
        for round_number in range(options.rounds):
            order = options.pythons if round_number % 2 == 0 else options.pythons[::-1]
            for scheme, (count, _) in schemes.items():
                for python in order:
                    rate, cpu = run(python, configs[scheme], count)
                    measured.setdefault((python, scheme), []).append((rate, cpu))
                    print(f"  {scheme:<5} {versions[python]:<14} {rate:7.0f} checks/s {cpu:6.2f} CPU-s/1000", flush=True)

    print(f"\n{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; median of {options.rounds} runs; "
          f"ratios to {versions[options.pythons[0]]}")
    print(f"{'interpreter':<16}" + "".join(f"{scheme + ' checks/s':>17}  {'CPU-s/1000':>13}" for scheme in schemes))
    first = options.pythons[0]
    for python in options.pythons:
        cells = ""
        for scheme in schemes:
            rate = statistics.median(r for r, _ in measured[(python, scheme)])
            cpu = statistics.median(c for _, c in measured[(python, scheme)])
            base_rate = statistics.median(r for r, _ in measured[(first, scheme)])
            base_cpu = statistics.median(c for _, c in measured[(first, scheme)])
            cells += f"{rate:>8.0f} ({rate / base_rate:4.2f}x)  {cpu:>5.2f} ({cpu / base_cpu:4.2f}x)"
        print(f"{versions[python]:<16}{cells}")


if __name__ == "__main__":
    main()
