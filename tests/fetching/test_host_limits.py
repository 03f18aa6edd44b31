"""Per-host politeness: crawl.per_host_concurrency and crawl.per_host_delay, seen from recording servers."""

import time

import gevent
from gevent.server import StreamServer

from healthcrawl import hookimpl
from healthcrawl.testing.crawl import run_crawl


class RecordingServer:
    """Answers 200 after ``hold`` seconds and records when each request arrived and how many overlapped."""

    def __init__(self, host, hold=0.1):
        self.hold = hold
        self.arrivals = []
        self.in_flight = 0
        self.most_in_flight = 0
        self._server = StreamServer((host, 0), self._handle)
        self.url = None

    def __enter__(self):
        self._server.start()
        host, port = self._server.address
        self.url = f"http://{host}:{port}/"
        return self

    def __exit__(self, *exc):
        self._server.stop()

    def _handle(self, sock, address):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                return
            data += chunk
        self.arrivals.append(time.monotonic())
        self.in_flight += 1
        self.most_in_flight = max(self.most_in_flight, self.in_flight)
        gevent.sleep(self.hold)
        self.in_flight -= 1
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        sock.close()


def crawl(targets, **settings):
    records = run_crawl({
        "crawl": {"concurrency": 32, "timeout": 10, **settings},
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "status"}],
    })
    assert len(records) == len(targets) and all(r["ok"] for r in records), records[:2]


def test_per_host_concurrency_caps_each_host_but_not_the_crawl():
    with RecordingServer("127.0.0.1") as a, RecordingServer("127.0.0.2") as b:
        crawl([f"{a.url}?{i}" for i in range(10)] + [f"{b.url}?{i}" for i in range(10)], per_host_concurrency=2)
    assert (a.most_in_flight, b.most_in_flight) == (2, 2)


def test_without_a_limit_one_host_gets_the_whole_pool():
    with RecordingServer("127.0.0.1") as a:
        crawl([f"{a.url}?{i}" for i in range(10)])
    assert a.most_in_flight == 10


def test_per_host_concurrency_holds_across_worker_processes():
    with RecordingServer("127.0.0.1") as a, RecordingServer("127.0.0.2") as b:
        crawl([f"{a.url}?{i}" for i in range(6)] + [f"{b.url}?{i}" for i in range(6)],
              per_host_concurrency=1, workers=2)
    assert (a.most_in_flight, b.most_in_flight) == (1, 1)


def test_per_host_delay_spaces_the_starts_on_one_host_while_other_hosts_go_on(register_plugin):
    """The gaps are measured where the delay applies, when each request is about to be sent: at the server,
    a first request still opening its connection can arrive late and shrink the next gap (a flaky test)."""
    delay = 0.15
    starts: dict[str, list[float]] = {}

    class RecordStarts:
        @hookimpl
        def healthcrawl_prepare_request(self, request):
            starts.setdefault(request.url.split("?")[0], []).append(time.monotonic())

    register_plugin(RecordStarts())
    with RecordingServer("127.0.0.1", hold=0) as a, RecordingServer("127.0.0.2", hold=0) as b:
        crawl([f"{a.url}?{i}" for i in range(4)] + [f"{b.url}?{i}" for i in range(4)], per_host_delay=delay)
    for server in (a, b):
        assert len(server.arrivals) == 4
        sent = starts[server.url]
        gaps = [later - earlier for earlier, later in zip(sent, sent[1:])]
        assert len(gaps) == 3 and min(gaps) >= delay * 0.9, gaps
    # The hosts were not served one after the other: b's first request came before a's last.
    assert b.arrivals[0] < a.arrivals[-1]


def test_bad_per_host_settings_name_the_key():
    import pytest

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
