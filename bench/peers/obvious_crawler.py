"""The obvious gevent + requests health-check crawler: what most people write first.

``requests.get`` per target from a gevent pool, default settings (a new session per
call, the environment consulted for proxies, the CA bundle loaded per connection).
Usage: ``obvious_crawler.py TARGETS_FILE CONCURRENCY CA_BUNDLE``; prints one JSON line.
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import sys  # noqa: E402

import gevent.pool  # noqa: E402
import requests  # noqa: E402


def main() -> None:
    path, concurrency, ca_bundle = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    counts = {"done": 0, "ok": 0}

    def check(url: str) -> None:
        try:
            response = requests.get(url, timeout=10, verify=ca_bundle)
            ok = 200 <= response.status_code < 400
        except requests.RequestException:
            ok = False
        counts["done"] += 1
        counts["ok"] += ok

    pool = gevent.pool.Pool(concurrency)
    with open(path) as lines:
        for line in lines:
            pool.spawn(check, line.strip())
    pool.join()
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
