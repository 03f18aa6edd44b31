"""Benchmark: crawl.resolver thread vs ares, resolving 10,000 names served by a local dnsmasq.

One command (``python bench/dns_bench.py``): starts dnsmasq (from Debian, installed when
missing) on a loopback port with N names, then resolves every name through healthcrawl's
resolver for each setting, alternating, with the same number of lookups in flight.
``thread`` with nameservers asks them through dnspython's stub resolver; ``ares`` through
c-ares. Prints lookups/s and the ratio.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import gevent.pool  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from local_servers import dnsmasq, free_port  # noqa: E402

from healthcrawl.fetching.resolver import RESOLVERS, build_resolver  # noqa: E402


def resolve_all(kind: str, nameserver: str, names: list[str], concurrency: int) -> tuple[float, int]:
    """Resolve every name once with a fresh (so empty-cached) resolver; returns (seconds, failures)."""
    resolver = build_resolver(kind, [nameserver], timeout=5.0)
    failures = 0

    def lookup(name: str) -> None:
        nonlocal failures
        try:
            resolver.resolve(name)
        except OSError:
            failures += 1

    pool = gevent.pool.Pool(concurrency)
    started = time.perf_counter()
    for name in names:
        pool.spawn(lookup, name)
    pool.join()
    return time.perf_counter() - started, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = [f"host{i}.bench.test" for i in range(args.names)]
    records = {name: f"127.{1 + i // 62500}.{i // 250 % 250}.{1 + i % 250}" for i, name in enumerate(names)}
    port = free_port()
    rates: dict[str, list[float]] = {kind: [] for kind in RESOLVERS}
    with dnsmasq(port, records):
        for round_number in range(args.rounds):
            for kind in RESOLVERS if round_number % 2 == 0 else RESOLVERS[::-1]:
                seconds, failures = resolve_all(kind, f"127.0.0.1:{port}", names, args.concurrency)
                rates[kind].append(len(names) / seconds)
                print(f"  {kind:<7} {len(names) / seconds:8.0f} lookups/s  {seconds:6.2f} s  failures {failures}", flush=True)
    print(f"\n{'resolver':<8} {'lookups/s':>10} {'vs thread':>10}")
    thread = statistics.median(rates["thread"])
    for kind in RESOLVERS:
        rate = statistics.median(rates[kind])
        print(f"{kind:<8} {rate:10.0f} {rate / thread:9.2f}x")


if __name__ == "__main__":
    main()
