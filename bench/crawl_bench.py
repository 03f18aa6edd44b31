"""Benchmark: healthcrawl against the obvious gevent + requests crawler and an aiohttp crawler.

One command (``python bench/crawl_bench.py``, needs ``pip install -e '.[bench]'``): starts
nginx (one worker) on loopback for HTTP and HTTPS, writes N targets over distinct loopback
addresses (127.x.y.z, so no connection is reused), then runs the crawlers in turn, alternating
their order each round, on the same targets at the same concurrency. Each crawler gets its own
nginx ports so that the TIME_WAIT sockets it leaves behind can be counted on its own.
Prints checks/s, the ratios, peak RSS and TIME_WAIT left behind.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_servers import free_port, nginx  # noqa: E402

PEERS = Path(__file__).resolve().parent / "peers"


@dataclass
class Crawler:
    """One crawler under test and what its runs measured."""

    name: str
    workers: int | None = None  # healthcrawl only
    port: int = 0
    tls_port: int = 0
    rates: dict[str, list[float]] = field(default_factory=lambda: {"http": [], "https": []})
    rss_mb: dict[str, list[float]] = field(default_factory=lambda: {"http": [], "https": []})
    time_wait: dict[str, list[int]] = field(default_factory=lambda: {"http": [], "https": []})

    def command(self, targets: Path, concurrency: int, bundle: str, folder: Path) -> list[str]:
        if self.name == "obvious":
            return [sys.executable, str(PEERS / "obvious_crawler.py"), str(targets), str(concurrency), bundle]
        if self.name == "aiohttp":
            return [sys.executable, str(PEERS / "aiohttp_crawler.py"), str(targets), str(concurrency), bundle]
        config = folder / f"{self.name}.yaml"
        config.write_text(
            json.dumps(
                {
                    "crawl": {"concurrency": concurrency, "verify": bundle, "workers": self.workers},
                    "sources": [{"type": "file", "path": str(targets)}],
                    "checks": [{"type": "status"}, {"type": "tls_expiry"}],
                }
            )
        )
        return [sys.executable, "-m", "healthcrawl", "run", "--quiet", str(config)]


def loopback_address(index: int) -> str:
    """The index-th of 127.1.0.1, 127.1.0.2, ... (250 per /24, never .0 or .255)."""
    block, host = divmod(index, 250)
    return f"127.{1 + block // 250}.{block % 250}.{1 + host}"


def write_targets(path: Path, scheme: str, port: int, count: int) -> None:
    path.write_text("".join(f"{scheme}://{loopback_address(i)}:{port}/\n" for i in range(count)))


def time_wait_to(port: int) -> int:
    out = subprocess.run(
        ["ss", "-Htan", "state", "time-wait", f"( dport = :{port} )"], capture_output=True, text=True, check=True
    )
    return len(out.stdout.splitlines())


def run_once(crawler: Crawler, scheme: str, count: int, concurrency: int, bundle: str, folder: Path) -> None:
    port = crawler.port if scheme == "http" else crawler.tls_port
    targets = folder / f"{crawler.name}-{scheme}.txt"
    write_targets(targets, scheme, port, count)
    before = time_wait_to(port)
    started = time.perf_counter()
    process = subprocess.Popen(
        crawler.command(targets, concurrency, bundle, folder), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    out, err = process.stdout.read().decode(), process.stderr.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"{crawler.name} failed ({process.returncode}):\n{out}\n{err}")
    crawler.rates[scheme].append(count / elapsed)
    crawler.rss_mb[scheme].append(usage.ru_maxrss / 1024)
    crawler.time_wait[scheme].append(max(0, time_wait_to(port) - before))
    print(f"  {scheme:<5} {crawler.name:<22} {count / elapsed:8.0f} checks/s  {elapsed:6.1f} s  {out.strip()[:60]}", flush=True)


def report(crawlers: list[Crawler], schemes: list[str]) -> str:
    lines = []
    by_name = {c.name: c for c in crawlers}
    for scheme in schemes:
        lines.append(f"\n{scheme.upper()}")
        lines.append(f"{'crawler':<22} {'checks/s':>9} {'vs obvious':>11} {'vs aiohttp':>11} {'peak RSS MB':>12} {'TIME_WAIT':>10}")
        medians = {c.name: statistics.median(c.rates[scheme]) for c in crawlers}
        for crawler in crawlers:
            rate = medians[crawler.name]
            vs_obvious = rate / medians["obvious"] if "obvious" in by_name else float("nan")
            vs_aiohttp = rate / medians["aiohttp"] if "aiohttp" in by_name else float("nan")
            lines.append(
                f"{crawler.name:<22} {rate:9.0f} {vs_obvious:10.2f}x {vs_aiohttp:10.2f}x "
                f"{max(crawler.rss_mb[scheme]):12.1f} {max(crawler.time_wait[scheme]):10d}"
            )
    return "\n".join(lines)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.platform()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", type=int, default=10000, help="HTTP targets per run (default 10000)")
    parser.add_argument("--https", type=int, default=1000, help="HTTPS targets per run (default 1000)")
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each crawler per scheme (median kept)")
    parser.add_argument("--workers", default=f"1,{os.cpu_count()}", help="healthcrawl worker counts to run")
    parser.add_argument("--only", default="", help="comma-separated crawler names to run (default all)")
    args = parser.parse_args()

    crawlers = [Crawler(f"healthcrawl workers={w}", workers=int(w)) for w in args.workers.split(",") if w]
    crawlers += [Crawler("obvious"), Crawler("aiohttp")]
    if args.only:
        crawlers = [c for c in crawlers if c.name in args.only.split(",")]
    for crawler in crawlers:
        crawler.port, crawler.tls_port = free_port(), free_port()
    schemes = [scheme for scheme, count in (("http", args.http), ("https", args.https)) if count]
    tls_addresses = [loopback_address(i) for i in range(args.https)]
    print(f"machine: {machine()}")
    print(f"targets: {args.http} http, {args.https} https; concurrency {args.concurrency}; rounds {args.rounds}")
    with tempfile.TemporaryDirectory(prefix="crawl-bench-") as folder, nginx(
        [c.port for c in crawlers], [c.tls_port for c in crawlers], tls_addresses or ["127.0.0.1"]
    ) as bundle:
        for round_number in range(args.rounds):
            order = crawlers if round_number % 2 == 0 else crawlers[::-1]
            for scheme in schemes:
                for crawler in order:
                    count = args.http if scheme == "http" else args.https
                    run_once(crawler, scheme, count, args.concurrency, bundle, Path(folder))
    print(report(crawlers, schemes))


if __name__ == "__main__":
    main()
