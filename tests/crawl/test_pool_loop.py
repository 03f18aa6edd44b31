"""The one pool loop: lazy, bounded, stoppable, and honest about a failing source."""

import gevent
import gevent.event
import pytest

from healthcrawl import Target
from healthcrawl.crawl.pool_loop import run_pool


def numbered(count, pulled=None):
    for seq in range(count):
        if pulled is not None:
            pulled.append(seq)
        yield Target(url=f"http://127.0.0.1/{seq}", seq=seq)


def slow_echo(in_flight, peak):
    """A check_target that yields to the loop and records how many run at once."""

    def check(target):
        in_flight.append(target.seq)
        peak[0] = max(peak[0], len(in_flight))
        gevent.sleep(0.001)
        in_flight.remove(target.seq)
        return target.seq

    return check


def test_every_target_gives_one_result_with_at_most_concurrency_in_flight():
    in_flight, peak = [], [0]
    results = list(run_pool(slow_echo(in_flight, peak), numbered(500), 8, gevent.event.Event()))
    assert sorted(results) == list(range(500))
    assert peak[0] == 8


def test_targets_are_pulled_only_when_a_greenlet_is_free():
    pulled = []
    loop = run_pool(slow_echo([], [0]), numbered(1000, pulled), 4, gevent.event.Event())
    next(loop)
    assert len(pulled) <= 4 + 4 + 1  # the pool, the results waiting for the consumer, the one being spawned
    loop.close()


def test_stop_abandons_targets_in_flight_and_ends_the_loop():
    stop = gevent.event.Event()
    release = gevent.event.Event()

    def check(target):
        if target.seq >= 10:
            release.wait()  # never set: these are in flight when stop comes
        return target.seq

    results = []
    for result in run_pool(check, numbered(100_000), 20, stop):
        results.append(result)
        if len(results) == 10:
            stop.set()
    assert sorted(results) == list(range(10))


def test_a_failing_source_is_raised_after_the_finished_results():
    def source():
        yield from numbered(5)
        raise OSError("disk gone")

    results = []
    with pytest.raises(OSError, match="disk gone"):
        for result in run_pool(lambda target: target.seq, source(), 2, gevent.event.Event()):
            results.append(result)
    assert set(results) <= set(range(5))


def test_a_consumer_that_stops_reading_leaves_no_greenlet_running():
    started = []

    def check(target):
        started.append(target.seq)
        gevent.sleep(0.001)
        return target.seq

    loop = run_pool(check, numbered(100_000), 16, gevent.event.Event())
    for _ in range(50):
        next(loop)
    loop.close()
    count = len(started)
    gevent.sleep(0.05)
    assert len(started) == count  # nothing went on after close
