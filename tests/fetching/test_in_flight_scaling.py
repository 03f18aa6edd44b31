"""The work per target does not grow with the number of targets in flight (``crawl.concurrency``).

Counted in Python function calls (deterministic), not in time.
"""

import sys

from healthcrawl.fetching.resolver import build_resolver
from healthcrawl.fetching.transport import Transport


def transport(pool_size: int) -> Transport:
    return Transport(
        build_resolver(), linger=True, verify=False, user_agent="test", proxy=None, pool_size=pool_size, timeout=5
    )


def calls_made(action) -> int:
    count = 0

    def profile(frame, event, arg):
        nonlocal count
        if event in ("call", "c_call"):
            count += 1

    sys.setprofile(profile)
    try:
        action()
    finally:
        sys.setprofile(None)
    return count


def test_a_new_host_pool_costs_the_same_at_10_and_at_10000_in_flight():
    small, large = transport(10), transport(10_000)
    try:
        for warm_up in (small, large):
            warm_up.adapter.host_pools.get("http", "127.0.0.1", 1)
        cost_small = calls_made(lambda: small.adapter.host_pools.get("http", "127.0.0.2", 2))
        cost_large = calls_made(lambda: large.adapter.host_pools.get("http", "127.0.0.2", 2))
    finally:
        small.close()
        large.close()
    assert cost_large == cost_small, (cost_small, cost_large)


def test_a_host_pool_still_keeps_as_many_idle_connections_as_targets_in_flight():
    big = transport(300)
    try:
        pool = big.adapter.host_pools.get("http", "127.0.0.1", 1)
        connections = [pool._new_conn() for _ in range(301)]
        for connection in connections:
            pool._put_conn(connection)
        assert pool.pool.qsize() == 300
    finally:
        big.close()

