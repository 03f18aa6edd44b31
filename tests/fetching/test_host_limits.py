"""Per-host politeness: crawl.per_host_concurrency and crawl.per_host_delay, seen from recording servers."""

import time

import gevent
import gevent.event
import gevent.pool
import pytest

from healthcrawl import hookimpl
from healthcrawl.fetching.host_limits import HostLimiter
from healthcrawl.testing.crawl import run_crawl
from healthcrawl.testing.servers import OverlapRecordingServer


def crawl(targets, **settings):
    records = run_crawl({
        "crawl": {"concurrency": 32, "timeout": 10, **settings},
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "status"}],
    })
    assert len(records) == len(targets) and all(r["ok"] for r in records), records[:2]


# The limiter itself: its bookkeeping is freed and pruned, so memory does not grow with the number of hosts.

def test_the_limiter_is_active_with_a_concurrency_or_a_delay():
    assert HostLimiter(None, 0).active is False
    assert HostLimiter(1, 0).active is True
    assert HostLimiter(None, 0.001).active is True


def test_a_host_holds_a_slot_entry_only_while_a_target_waits_or_runs():
    limiter = HostLimiter(1, 0)
    inside, release = gevent.event.Event(), gevent.event.Event()
    entered = []

    def visit(name):
        with limiter.slot("a.test"):
            entered.append(name)
            inside.set()
            release.wait()

    first = gevent.spawn(visit, "first")
    inside.wait(timeout=10)
    second = gevent.spawn(visit, "second")
    gevent.sleep(0)
    assert entered == ["first"]  # concurrency 1: the second waits for the first
    assert limiter._slots["a.test"][1] == 2  # both counted, so the entry outlives the first
    release.set()
    gevent.joinall([first, second], timeout=10, raise_error=True)
    assert entered == ["first", "second"] and limiter._slots == {}


def test_a_slot_is_freed_when_the_target_raises():
    limiter = HostLimiter(2, 0)
    with pytest.raises(RuntimeError):
        with limiter.slot("a.test"):
            assert limiter._slots["a.test"][1] == 1
            raise RuntimeError("boom")
    assert limiter._slots == {}
    with limiter.slot("a.test"), limiter.slot("a.test"):  # both places are back
        pass


def test_without_a_concurrency_or_delay_nothing_is_remembered():
    limiter = HostLimiter(None, 0)
    with limiter.slot("a.test"):
        assert limiter._slots == {}
    limiter.wait_for_turn("a.test")
    assert limiter._slots == {} and limiter._next_start == {}


def test_each_start_on_a_host_is_delay_after_the_one_before():
    delay = 0.2
    limiter = HostLimiter(None, delay)
    before = time.monotonic()
    limiter.wait_for_turn("a.test")
    first_start = limiter._next_start["a.test"] - delay
    assert before <= first_start <= time.monotonic()
    limiter.wait_for_turn("a.test")  # waits until first_start + delay
    assert time.monotonic() >= first_start + delay - 0.01
    assert limiter._next_start["a.test"] == pytest.approx(first_start + 2 * delay)
    limiter.wait_for_turn("b.test")  # another host does not wait for a.test
    assert limiter._next_start["b.test"] - delay < first_start + 2 * delay


def test_start_times_in_the_past_are_pruned_every_10000_starts():
    limiter = HostLimiter(None, 1e-9)
    sizes = {}
    for n in range(1, 20_001):
        limiter.wait_for_turn(f"host{n}.test")
        if n in (9_999, 10_000, 19_999, 20_000):
            sizes[n] = (len(limiter._next_start), len(limiter._started))
    assert sizes[9_999] == (9_999, 9_999) and min(sizes[19_999]) >= 9_999
    assert max(sizes[10_000]) < 100 and max(sizes[20_000]) < 100, sizes  # only starts not yet in the past are kept


def test_a_pruned_host_still_waits_for_a_start_in_the_future():
    limiter = HostLimiter(None, 3600)
    limiter.wait_for_turn("slow.test")
    for n in range(10_000):
        limiter._next_start[f"gone{n}.test"] = 0.0  # starts long past
    limiter._since_prune = 9_999
    limiter.wait_for_turn("fast.test")
    assert set(limiter._next_start) == {"slow.test", "fast.test"}


def test_a_prune_keeps_the_start_of_a_host_that_began_within_the_delay():
    limiter = HostLimiter(None, 60)
    limiter.wait_for_turn("recent.test")
    long_ago = time.monotonic() - 100
    for n in range(10_000):
        limiter._next_start[f"gone{n}.test"] = long_ago + 60
        limiter._started[f"gone{n}.test"] = long_ago
    limiter._since_prune = 9_999
    limiter.wait_for_turn("other.test")
    assert set(limiter._started) == {"recent.test", "other.test"}


def test_memory_stays_bounded_over_100000_hosts():
    limiter = HostLimiter(2, 1e-9)
    most_slots = 0
    for n in range(100_000):
        with limiter.slot(f"host{n}.test"):
            most_slots = max(most_slots, len(limiter._slots))
    assert limiter._slots == {} and most_slots == 1
    assert len(limiter._next_start) <= 10_000 and len(limiter._started) <= 10_000


def test_per_host_concurrency_caps_each_host_but_not_the_crawl():
    with OverlapRecordingServer(["127.0.0.1", "127.0.0.2"]) as server:
        crawl(server.urls(10), per_host_concurrency=2)
    assert [server.most_in_flight[netloc] for netloc in server.netlocs] == [2, 2]


def test_without_a_limit_one_host_gets_the_whole_pool():
    with OverlapRecordingServer(["127.0.0.1"]) as server:
        crawl(server.urls(10))
    assert server.most_in_flight[server.netlocs[0]] == 10


def test_per_host_concurrency_holds_across_worker_processes():
    with OverlapRecordingServer(["127.0.0.1", "127.0.0.2"]) as server:
        crawl(server.urls(6), per_host_concurrency=1, workers=2)
    assert [server.most_in_flight[netloc] for netloc in server.netlocs] == [1, 1]


def test_per_host_delay_spaces_the_starts_on_one_host_while_other_hosts_go_on(register_plugin):
    """The gaps are measured where the delay applies, when each request is about to be sent: at the server,
    a first request still opening its connection can arrive late and shrink the next gap (a flaky test)."""
    delay = 0.15
    starts: dict[str, list[float]] = {}

    class RecordStarts:
        @hookimpl
        def healthcrawl_prepare_request(self, request):
            starts.setdefault(request.url.split("/")[2], []).append(time.monotonic())

    register_plugin(RecordStarts())
    with OverlapRecordingServer(["127.0.0.1", "127.0.0.2"], hold=0) as server:
        crawl(server.urls(4), per_host_delay=delay)
    for netloc in server.netlocs:
        assert len(server.arrivals[netloc]) == 4
        sent = starts[netloc]
        gaps = [later - earlier for earlier, later in zip(sent, sent[1:])]
        assert len(gaps) == 3 and min(gaps) >= delay * 0.9, gaps
    # The hosts were not served one after the other: the second's first request came before the first's last.
    a, b = server.netlocs
    assert server.arrivals[b][0] < server.arrivals[a][-1]


def test_bad_per_host_settings_name_the_key():
    from healthcrawl import ConfigError
    from healthcrawl.configuration.loading import build_config
    from healthcrawl.plugin_system.manager import get_plugin_manager
    from healthcrawl.plugin_system.registry import ComponentRegistry

    registry = ComponentRegistry.from_plugins(get_plugin_manager())
    with pytest.raises(ConfigError) as error:
        build_config({"crawl": {"per_host_concurrency": 0, "per_host_delay": -1},
                      "sources": [{"type": "list", "targets": ["a.test"]}]}, registry)
    assert sorted(error.value.problems) == [
        "crawl.per_host_concurrency: must be at least 1",
        "crawl.per_host_delay: must be at least 0",
    ]


def busy_loop(seconds):
    """Hold the event loop (and this process) for ``seconds``, as a CPU-bound stretch would."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_a_turn_that_began_late_moves_the_next_one():
    """The event loop busy when a host's second turn is due (it begins late): the third still starts a whole delay
    after the second's actual start, not after its booked one."""
    limiter = HostLimiter(concurrency=None, delay=0.2)
    starts = []

    def turn():
        limiter.wait_for_turn("h")
        starts.append(time.monotonic())

    waiters = [gevent.spawn(turn) for _ in range(3)]
    gevent.sleep(0)  # the three turns are booked (the first has begun) and the loop's clock is current
    gevent.spawn_later(0.15, busy_loop, 0.15)  # holds the loop from 0.15 s to 0.30 s: the 0.2 s turn begins late
    gevent.joinall(waiters, timeout=30, raise_error=True)
    assert len(starts) == 3
    assert starts[1] - starts[0] >= 0.25, starts  # it did begin late
    assert starts[2] - starts[1] >= 0.19, starts


def test_a_turn_booked_after_a_late_one_began_still_waits_a_whole_delay():
    """The second turn begins later than the third's booked time (the loop was busy for longer than the delay):
    the third, booked only once the second began, still waits a whole delay after it."""
    limiter = HostLimiter(concurrency=None, delay=0.2)
    starts = []

    def turns():
        for _ in range(3):
            limiter.wait_for_turn("h")
            starts.append(time.monotonic())

    one_after_another = gevent.spawn(turns)
    gevent.sleep(0)  # the first turn has begun and the second is booked for 0.2 s
    gevent.spawn_later(0.15, busy_loop, 0.3)  # holds the loop from 0.15 s to 0.45 s
    one_after_another.join(timeout=30)
    assert len(starts) == 3
    assert starts[1] - starts[0] >= 0.4, starts  # it began later than the third's booked 0.4 s
    assert starts[2] - starts[1] >= 0.19, starts
