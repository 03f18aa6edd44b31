"""Drive a running Prometheus blackbox_exporter the way Prometheus scrapes it: one /probe per target.

Usage: ``blackbox_scraper.py TARGETS_FILE CONCURRENCY EXPORTER_PORT MODULE``; prints one JSON line
(``done``, ``ok``: probes whose ``probe_success`` is 1). Up to CONCURRENCY scrapes are in
flight at once over kept-alive connections to the exporter, as a Prometheus server with that
many targets due at once would have.
"""

import asyncio
import json
import sys
from urllib.parse import quote

import aiohttp


async def scrape(path: str, concurrency: int, port: int, module: str) -> dict:
    counts = {"done": 0, "ok": 0}
    timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency)
    base = f"http://127.0.0.1:{port}/probe?module={module}&target="
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def probe(target: str) -> None:
            try:
                async with session.get(base + quote(target, safe="")) as response:
                    ok = b"\nprobe_success 1" in await response.read()
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            counts["done"] += 1
            counts["ok"] += ok

        async def worker(targets) -> None:
            for target in targets:
                await probe(target)

        with open(path) as lines:
            targets = (line.strip() for line in lines)
            await asyncio.gather(*(worker(targets) for _ in range(concurrency)))
    return counts


def main() -> None:
    path, concurrency, port, module = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    print(json.dumps(asyncio.run(scrape(path, concurrency, port, module))))


if __name__ == "__main__":
    main()
