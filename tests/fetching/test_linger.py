"""SO_LINGER(0): finished connections are reset, so the client leaves no TIME_WAIT sockets behind.

Each target is a distinct loopback address (127.0.x.y), so no connection is reused and
every target opens its own. TIME_WAIT is counted with ``ss`` on the server's port.
"""

import subprocess

import pytest

from healthcrawl.testing.certs import CertAuthority
from healthcrawl.testing.crawl import run_crawl
from healthcrawl.testing.proxy import ForwardProxy
from healthcrawl.testing.servers import HTTPTestServer


def loopback_targets(server, count):
    return [server.url("/", host=f"127.0.{1 + i // 250}.{1 + i % 250}") for i in range(count)]


def time_wait_to(port):
    """Client sockets to ``port`` in TIME_WAIT."""
    return _count_sockets(port, "state", "time-wait")


def gracefully_closed_to(port):
    """Client sockets to ``port`` that closed with FIN (TIME_WAIT, or FIN-WAIT until the server closes).

    The TLS test server is slow to close its side, so a FIN-closed client socket may still be
    in FIN-WAIT-2 when counted; a socket closed with RST (SO_LINGER 0) is in no state at all.
    """
    return _count_sockets(port, "state", "time-wait", "state", "fin-wait-1", "state", "fin-wait-2")


def _count_sockets(port, *states):
    out = subprocess.run(["ss", "-Htan", *states, f"( dport = :{port} )"], capture_output=True, text=True, check=True)
    return len(out.stdout.splitlines())


def left_by_crawl(count_sockets, port, targets, linger, **settings):
    """Sockets to ``port`` counted by ``count_sockets`` that a crawl of ``targets`` adds.

    Counted as a difference: a new server may get the port of an earlier one whose
    TIME_WAIT sockets are still there.
    """
    before = count_sockets(port)
    crawl(targets, linger, **settings)
    return count_sockets(port) - before


def crawl(targets, linger, **settings):
    config = {
        "crawl": {"linger": linger, "concurrency": 128, "timeout": 10, **settings},
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "status"}],
    }
    records = run_crawl(config)
    assert len(records) == len(targets)
    assert all(r["ok"] for r in records), [r for r in records if not r["ok"]][:3]


@pytest.mark.parametrize("linger", [True, False])
def test_http_time_wait_with_and_without_linger(linger):
    count = 2000
    with HTTPTestServer(bind_all_loopback=True) as server:
        left = left_by_crawl(time_wait_to, server.port, loopback_targets(server, count), linger)
    if linger:
        assert left == 0
    else:
        assert left >= count * 0.9  # about one per target


def test_https_connections_are_reset_with_linger():
    with CertAuthority() as ca, HTTPTestServer(tls=True, ca=ca, bind_all_loopback=True) as server:
        # The certificate names 127.0.0.1 only, so connect to other loopback addresses unverified.
        assert left_by_crawl(gracefully_closed_to, server.port, loopback_targets(server, 200), True, verify=False) == 0


def test_https_connections_close_gracefully_without_linger():
    """The contrast that shows the count above can see FIN-closed sockets at all.

    The TLS server's own close races with the client's FIN: a client socket that the server
    answers with a reset vanishes before ``ss`` looks, so a round sees a varying share of its
    200 FIN-closed sockets (occasionally none). Up to three rounds must see at least one.
    """
    seen = 0
    for _ in range(3):
        with CertAuthority() as ca, HTTPTestServer(tls=True, ca=ca, bind_all_loopback=True) as server:
            seen += left_by_crawl(gracefully_closed_to, server.port, loopback_targets(server, 200), False, verify=False)
        if seen:
            break
    assert seen >= 1


@pytest.mark.parametrize("linger", [True, False])
def test_proxied_https_tunnels_linger_too(linger):
    count = 100
    with CertAuthority() as ca, HTTPTestServer(tls=True, ca=ca, bind_all_loopback=True) as server:
        with ForwardProxy() as proxy:
            targets = loopback_targets(server, count)
            left = left_by_crawl(gracefully_closed_to, proxy.port, targets, linger, proxy=proxy.url, verify=False)
            assert proxy.requests == count  # one CONNECT tunnel per target
    assert left == 0 if linger else left >= 1


@pytest.mark.parametrize("linger", [True, False])
def test_proxied_http_connections_linger_too(linger):
    """Plain-HTTP requests share keep-alive connections to the proxy; each closed one counts."""
    with HTTPTestServer(bind_all_loopback=True) as server, ForwardProxy() as proxy:
        targets = loopback_targets(server, 100)
        left = left_by_crawl(gracefully_closed_to, proxy.port, targets, linger, proxy=proxy.url, concurrency=10)
        assert proxy.requests == 100
    assert left == 0 if linger else left >= 1


def test_reading_a_rejected_certificate_leaves_no_time_wait_either():
    """A rejected certificate costs two connections: the verified handshake, then an unverified one that reads it.

    Only the linger case is checked: the test server resets these connections itself when the
    client closes them, so a contrast without linger would see nothing either.
    """
    count = 50
    with CertAuthority() as ca, HTTPTestServer(tls=True, ca=ca, tls_kind="untrusted", bind_all_loopback=True) as server:
        before = gracefully_closed_to(server.port)
        records = run_crawl({
            "crawl": {"linger": True, "concurrency": 50, "timeout": 10, "verify": ca.ca_bundle_path},
            "sources": [{"type": "list", "targets": loopback_targets(server, count)}],
        })
        left = gracefully_closed_to(server.port) - before
        assert server.connections == 2 * count
    assert [r["error_kind"] for r in records] == ["tls_error"] * count
    assert all(r["tls"]["days_left"] is not None for r in records)
    assert left == 0
