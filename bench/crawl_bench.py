"""Benchmark: healthcrawl against blackbox_exporter, the obvious gevent + requests crawler and an aiohttp crawler.

One command (``python bench/crawl_bench.py``, needs ``pip install -e '.[bench]'``): starts
nginx (one worker) on loopback for HTTP and HTTPS, writes N targets over distinct loopback
addresses (127.x.y.z, so no connection is reused), then runs the crawlers in turn, alternating
their order each round, on the same targets at the same concurrency. Each crawler gets its own
nginx ports so that the TIME_WAIT sockets it leaves behind can be counted on its own.
Prints checks/s, CPU seconds per 1,000 checks, the ratios, peak RSS and TIME_WAIT left behind.

Prometheus blackbox_exporter (Debian's ``prometheus-blackbox-exporter``, installed when
missing) runs on a loopback port with its own config, started before the timing (its start-up
is excluded; healthcrawl's is included; its HTTPS module trusts the benchmark's private CA
alone, as blackbox reads its ``ca_file`` on every probe); ``bench/peers/blackbox_scraper.py`` scrapes
``/probe`` once per target at the same concurrency, as Prometheus would. Its CPU is the
exporter's own (from /proc); the scraper's is shown beside it.

``--latency`` runs the latency mode instead: nginx answers every request after 200 ms
(``--delay``), and healthcrawl (one process) runs at each of ``--in-flight`` (256, 2,000 and
10,000) against it, beside healthcrawl at 256 against an nginx with no delay.
"""

from __future__ import annotations

import argparse
import contextlib
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
from local_servers import blackbox_exporter, cpu_seconds, free_port, nginx  # noqa: E402

PEERS = Path(__file__).resolve().parent / "peers"


@dataclass
class Measurement:
    """One run of one crawler."""

    rate: float
    """Checks per second, wall time from start to exit."""
    cpu_per_1000: float
    """CPU seconds (user + system, children included) per 1,000 checks."""
    rss_mb: float
    time_wait: int
    server_cpu_per_1000: float
    """nginx's CPU seconds per 1,000 checks during the run."""
    scraper_cpu_per_1000: float | None = None
    """blackbox only: the scraping client's CPU, not counted in ``cpu_per_1000``."""


@dataclass
class Crawler:
    """One crawler under test and what its runs measured, by scheme (or latency-mode label)."""

    name: str
    workers: int | None = None  # healthcrawl only
    port: int = 0
    tls_port: int = 0
    exporter_port: int = 0  # blackbox only
    exporter_pid: int = 0
    runs: dict[str, list[Measurement]] = field(default_factory=dict)

    def command(self, targets: Path, scheme: str, concurrency: int, bundle: str, folder: Path) -> list[str]:
        if self.name == "obvious":
            return [sys.executable, str(PEERS / "obvious_crawler.py"), str(targets), str(concurrency), bundle]
        if self.name == "aiohttp":
            return [sys.executable, str(PEERS / "aiohttp_crawler.py"), str(targets), str(concurrency), bundle]
        if self.name == "blackbox":
            module = "http_2xx" if scheme == "http" else "https_2xx"
            return [
                sys.executable, str(PEERS / "blackbox_scraper.py"), str(targets), str(concurrency),
                str(self.exporter_port), module,
            ]
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
        return [sys.executable, "-m", "healthcrawl", "run", "--quiet", "--fail-on", "any", str(config)]  # exit 1 unless all ok


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


def run_once(
    crawler: Crawler, scheme: str, count: int, concurrency: int, server, folder: Path, label: str | None = None
) -> Measurement:
    """Run ``crawler`` once on ``count`` fresh targets; record and return what it measured under ``label``."""
    port = crawler.port if scheme == "http" else crawler.tls_port
    targets = folder / f"{crawler.name}-{scheme}.txt"
    write_targets(targets, scheme, port, count)
    before = time_wait_to(port)
    exporter_before = cpu_seconds(crawler.exporter_pid) if crawler.exporter_pid else 0.0
    server_before = cpu_seconds(server.pid)
    started = time.perf_counter()
    process = subprocess.Popen(
        crawler.command(targets, scheme, concurrency, server.bundle, folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    server_cpu = cpu_seconds(server.pid) - server_before
    process.returncode = os.waitstatus_to_exitcode(status)
    out, err = process.stdout.read().decode(), process.stderr.read().decode()
    if process.returncode != 0:
        raise SystemExit(f"{crawler.name} failed ({process.returncode}):\n{out}\n{err}")
    if out.strip().startswith("{") and json.loads(out)["ok"] != count:  # a peer's counts: every check must pass
        raise SystemExit(f"{crawler.name}: not every check passed: {out.strip()}")
    own_cpu = usage.ru_utime + usage.ru_stime  # wait4: the process and the children it waited for
    if crawler.exporter_pid:
        measurement = Measurement(
            count / elapsed, 1000 * (cpu_seconds(crawler.exporter_pid) - exporter_before) / count,
            usage.ru_maxrss / 1024, 0, 1000 * server_cpu / count, scraper_cpu_per_1000=1000 * own_cpu / count,
        )
    else:
        measurement = Measurement(count / elapsed, 1000 * own_cpu / count, usage.ru_maxrss / 1024, 0, 1000 * server_cpu / count)
    measurement.time_wait = max(0, time_wait_to(port) - before)
    crawler.runs.setdefault(label or scheme, []).append(measurement)
    scraper = "" if measurement.scraper_cpu_per_1000 is None else f"  scraper {measurement.scraper_cpu_per_1000:.2f}"
    print(
        f"  {label or scheme:<12} {crawler.name:<22} {measurement.rate:8.0f} checks/s  {elapsed:6.1f} s  "
        f"CPU-s/1k {measurement.cpu_per_1000:5.2f}  nginx {measurement.server_cpu_per_1000:5.2f}{scraper}  "
        f"{out.strip()[:60]}",
        flush=True,
    )
    return measurement


def report(crawlers: list[Crawler], labels: list[str], reference: str) -> str:
    """A table per label: medians of the rounds, ratios against ``reference`` (a crawler name) where it ran."""
    lines = []
    for label in labels:
        ran = [c for c in crawlers if label in c.runs]
        lines.append(f"\n{label.upper()}")
        lines.append(
            f"{'crawler':<22} {'checks/s':>9} {'CPU-s/1k':>9} {'vs ' + reference:>16} {'CPU vs':>7} "
            f"{'peak RSS MB':>12} {'TIME_WAIT':>10} {'nginx CPU/1k':>13}"
        )
        rates = {c.name: statistics.median(m.rate for m in c.runs[label]) for c in ran}
        cpus = {c.name: statistics.median(m.cpu_per_1000 for m in c.runs[label]) for c in ran}
        for crawler in ran:
            runs = crawler.runs[label]
            ratio = rates[crawler.name] / rates[reference] if reference in rates else float("nan")
            cpu_ratio = cpus[crawler.name] / cpus[reference] if reference in cpus else float("nan")
            scraper = [m.scraper_cpu_per_1000 for m in runs if m.scraper_cpu_per_1000 is not None]
            lines.append(
                f"{crawler.name:<22} {rates[crawler.name]:9.0f} {cpus[crawler.name]:9.2f} {ratio:15.2f}x {cpu_ratio:6.2f}x "
                f"{max(m.rss_mb for m in runs):12.1f} {max(m.time_wait for m in runs):10d} "
                f"{statistics.median(m.server_cpu_per_1000 for m in runs):13.2f}"
                + (f"  (scraper: {statistics.median(scraper):.2f} CPU-s/1k)" if scraper else "")
            )
    return "\n".join(lines)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, {platform.platform()}"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def compare(args, folder: Path) -> None:
    """HTTP and HTTPS: every crawler on the same nginx, alternating order each round."""
    crawlers = [Crawler(f"healthcrawl workers={w}", workers=int(w)) for w in args.workers.split(",") if w]
    crawlers += [Crawler("blackbox"), Crawler("obvious"), Crawler("aiohttp")]
    if args.only:
        crawlers = [c for c in crawlers if c.name in args.only.split(",")]
    for crawler in crawlers:
        crawler.port, crawler.tls_port = free_port(), free_port()
    schemes = [scheme for scheme, count in (("http", args.http), ("https", args.https)) if count]
    tls_addresses = [loopback_address(i) for i in range(args.https)]
    print(f"targets: {args.http} http, {args.https} https; concurrency {args.concurrency}; rounds {args.rounds}")
    with contextlib.ExitStack() as running:
        server = running.enter_context(
            nginx([c.port for c in crawlers], [c.tls_port for c in crawlers], tls_addresses or ["127.0.0.1"])
        )
        for crawler in crawlers:
            if crawler.name == "blackbox":  # started here, so its start-up is not timed
                crawler.exporter_port = free_port()
                crawler.exporter_pid = running.enter_context(blackbox_exporter(crawler.exporter_port, server.private_ca))
        for round_number in range(args.rounds):
            order = crawlers if round_number % 2 == 0 else crawlers[::-1]
            for scheme in schemes:
                for crawler in order:
                    count = args.http if scheme == "http" else args.https
                    run_once(crawler, scheme, count, args.concurrency, server, folder)
    reference = "blackbox" if any(c.name == "blackbox" for c in crawlers) else crawlers[-1].name
    print(report(crawlers, schemes, reference))


def latency(args, folder: Path) -> None:
    """healthcrawl (one process) at each number in flight against delayed responses, beside zero delay at 256."""
    in_flight = [int(n) for n in args.in_flight.split(",")]
    delayed = [Crawler(f"healthcrawl {n} in flight", workers=1) for n in in_flight]
    baseline = Crawler("healthcrawl 256, no delay", workers=1)
    for crawler in delayed + [baseline]:
        crawler.port, crawler.tls_port = free_port(), free_port()
    count = args.latency_targets
    print(f"latency mode: {count} http targets per run, delay {args.delay} s; rounds {args.rounds}")
    with nginx([c.port for c in delayed], [], ["127.0.0.1"], delay=args.delay) as slow, nginx(
        [baseline.port], [], ["127.0.0.1"]
    ) as fast:
        for round_number in range(args.rounds):
            runs = [(c, n, slow) for c, n in zip(delayed, in_flight)] + [(baseline, 256, fast)]
            for crawler, concurrency, server in runs if round_number % 2 == 0 else runs[::-1]:
                run_once(crawler, "http", count, concurrency, server, folder, label="latency")
    print(report(delayed + [baseline], ["latency"], baseline.name))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", type=int, default=5000, help="HTTP targets per run (default 5000)")
    parser.add_argument("--https", type=int, default=2000, help="HTTPS targets per run (default 2000)")
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=2, help="runs of each crawler per scheme (median kept)")
    parser.add_argument("--workers", default=f"1,{os.cpu_count()}", help="healthcrawl worker counts to run")
    parser.add_argument("--only", default="", help="comma-separated crawler names to run (default all)")
    parser.add_argument("--latency", action="store_true", help="run the latency mode instead")
    parser.add_argument("--delay", type=float, default=0.2, help="latency mode: seconds before each response")
    parser.add_argument("--in-flight", default="256,2000,10000", help="latency mode: concurrencies to run")
    parser.add_argument("--latency-targets", type=int, default=20000, help="latency mode: targets per run")
    args = parser.parse_args()
    print(f"machine: {machine()}; {load()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    with tempfile.TemporaryDirectory(prefix="crawl-bench-") as folder:
        (latency if args.latency else compare)(args, Path(folder))
    print(f"after: {load()}")


if __name__ == "__main__":
    main()
