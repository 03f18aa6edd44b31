"""A plain aiohttp health-check crawler: one session, one SSL context, a bounded number in flight.

Usage: ``aiohttp_crawler.py TARGETS_FILE CONCURRENCY CA_BUNDLE``; prints one JSON line.
"""

import asyncio
import json
import ssl
import sys

import aiohttp


async def crawl(path: str, concurrency: int, ca_bundle: str) -> dict:
    counts = {"done": 0, "ok": 0}
    context = ssl.create_default_context(cafile=ca_bundle)
    timeout = aiohttp.ClientTimeout(total=10)
    connector = aiohttp.TCPConnector(limit=concurrency, ssl=context)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def check(url: str) -> None:
            try:
                async with session.get(url) as response:
                    await response.read()
                    ok = 200 <= response.status < 400
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            counts["done"] += 1
            counts["ok"] += ok

        async def worker(urls) -> None:
            for url in urls:
                await check(url)

        with open(path) as lines:
            urls = (line.strip() for line in lines)
            await asyncio.gather(*(worker(urls) for _ in range(concurrency)))
    return counts


def main() -> None:
    path, concurrency, ca_bundle = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    print(json.dumps(asyncio.run(crawl(path, concurrency, ca_bundle))))


if __name__ == "__main__":
    main()
