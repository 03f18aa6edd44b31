"""Each fetch's trace is its own: timings and TLS facts come back with the fetch, none leak into another.

The fetch's ``FetchTrace`` reaches the connection classes through a context variable set for one
send (see ``healthcrawl.fetching.trace``); these tests run many fetches at once on loopback servers
and check that every snapshot holds the facts of its own server only.
"""

import gc
import random
import weakref

import gevent
import pytest

from healthcrawl import CrawlSettings
from healthcrawl.fetching.fetcher import build_fetcher
from healthcrawl.fetching.resolver import build_resolver
from healthcrawl.fetching.trace import FetchTrace, active_trace
from healthcrawl.fetching.transport import Transport
from healthcrawl.records import Target

TIMING_KEYS = ("dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "total_ms")


@pytest.fixture
def fetcher(healthcrawl_ca):
    """A fetcher that trusts the test CA, as a crawl builds it."""
    settings = CrawlSettings(timeout=10, verify=healthcrawl_ca.ca_bundle_path)
    fetcher = build_fetcher(settings, pool_size=64, prepare_request=lambda request: None)
    yield fetcher
    fetcher.close()


def test_concurrent_fetches_never_see_each_others_trace(make_server, fetcher):
    """Four servers that differ in every traced fact, fetched at once in a seeded random order."""
    by_name = make_server(days_left=30)  # reached as localhost: a DNS lookup, a verified certificate
    plain = make_server()  # an IP literal over HTTP: no lookup, no handshake
    by_address = make_server(days_left=300)  # an IP literal over HTTPS
    untrusted = make_server(cert="untrusted", days_left=3000)  # rejected, then read unverified
    for server in (by_name, plain, by_address):
        server.route("/", delay=0.05)  # keep many fetches in flight at once
    kinds = {
        by_name.url("/", host="localhost"): "by_name",
        plain.url("/"): "plain",
        by_address.url("/"): "by_address",
        untrusted.url("/"): "untrusted",
    }
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    order = [url for url in kinds for _ in range(12)]
    random.Random(seed).shuffle(order)
    in_flight, most_in_flight = 0, 0

    def fetch(url):
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        try:
            return url, fetcher.fetch(Target(url))
        finally:
            in_flight -= 1

    jobs = [gevent.spawn(fetch, url) for url in order]
    gevent.joinall(jobs, timeout=60, raise_error=True)
    assert most_in_flight > 1, "the fetches did not overlap, so the test shows nothing"
    for url, snapshot in (job.value for job in jobs):
        kind, tls, timings = kinds[url], snapshot.tls, snapshot.timings
        if kind != "by_name":
            assert timings.dns_ms is None, (kind, timings)  # an IP literal is never looked up
        if kind == "plain":
            assert snapshot.error_kind is None and tls is None and timings.tls_ms is None, (kind, snapshot)
        elif kind == "untrusted":
            assert snapshot.error_kind == "tls_error", (kind, snapshot.error)
            assert tls.verified is False and 2998 <= tls.days_left <= 3000, (kind, tls)
        else:
            expected_days = 30 if kind == "by_name" else 300
            assert snapshot.error_kind is None, (kind, snapshot.error)
            assert tls.verified is True and expected_days - 2 <= tls.days_left <= expected_days, (kind, tls)


def test_a_fetch_leaves_no_active_trace_behind(http_server, https_server, fetcher):
    for url in (http_server.url("/"), https_server.url("/", host="localhost"), "https://127.0.0.1:1/"):
        fetcher.fetch(Target(url))
        leftover = active_trace()  # outside a send: a fresh throwaway, not the fetch's trace
        assert (leftover.phase, leftover.handshake, leftover.connect_ms) == ("idle", None, None), url


def test_nothing_keeps_a_trace_after_its_request(https_server, healthcrawl_ca):
    transport = Transport(
        build_resolver(), linger=True, verify=healthcrawl_ca.ca_bundle_path, user_agent="test",
        proxy=None, pool_size=10, timeout=5,
    )
    try:
        trace = FetchTrace()
        response = transport.send(https_server.url("/"), headers={}, auth=None, normalised=False, trace=trace)
        response.close()
        assert trace.handshake.verified is True and trace.ttfb_ms is not None
        gone = weakref.ref(trace)
        del trace
        gc.collect()
        assert gone() is None, gc.get_referrers(gone())
    finally:
        transport.close()


@pytest.mark.parametrize("tls", [False, True])
def test_timings_and_tls_facts_are_filled(make_server, crawl, tls):
    server = make_server(tls=tls, days_left=90 if tls else None)
    url = server.url("/", host="localhost")
    (record,) = crawl({"sources": [{"type": "list", "targets": [url]}]})
    timings = record["timings"]
    assert record["ok"] is True, record["error"]
    expected = {key for key in TIMING_KEYS if tls or key != "tls_ms"}
    assert {key for key, value in timings.items() if value is not None} == expected, timings
    assert timings["total_ms"] >= timings["ttfb_ms"] >= timings["connect_ms"]
    if tls:
        assert record["tls"]["verified"] is True and 88 <= record["tls"]["days_left"] <= 90
        assert record["tls"]["version"].startswith("TLS") and "localhost" in record["tls"]["sans"]
    else:
        assert record["tls"] is None


@pytest.mark.parametrize("cert, days", [("untrusted", (1, 10**7)), ("expired", (-4, -3))])
def test_a_rejected_certificate_still_gives_tls_facts_marked_unverified(make_server, fetcher, cert, days):
    server = make_server(cert=cert)
    snapshot = fetcher.fetch(Target(server.url("/", host="localhost")))
    assert snapshot.error_kind == "tls_error"
    assert snapshot.tls.verified is False and days[0] <= snapshot.tls.days_left <= days[1]
    assert snapshot.tls.version.startswith("TLS") and "localhost" in snapshot.tls.sans
    assert snapshot.timings.connect_ms is not None and snapshot.timings.tls_ms is not None


def test_a_redirect_to_a_rejected_certificate_reports_that_certificate(make_server, fetcher):
    """The first hop's verified handshake does not stand in for the second hop's rejected one."""
    good = make_server(days_left=90)
    bad = make_server(cert="untrusted", days_left=3000)
    good.route("/", redirect_to=bad.url("/"))
    snapshot = fetcher.fetch(Target(good.url("/")))
    assert snapshot.error_kind == "tls_error" and snapshot.redirects == 1 and snapshot.final_url == bad.url("/")
    assert snapshot.tls.verified is False and 2998 <= snapshot.tls.days_left <= 3000


def test_a_kept_alive_connection_still_reports_its_certificate(https_server, crawl):
    """Later targets on the same host reuse the first one's connection: no new handshake, same facts."""
    urls = [https_server.url(f"/?{i}", host="localhost") for i in range(3)]
    records = crawl({"crawl": {"concurrency": 1}, "sources": [{"type": "list", "targets": urls}]})
    assert https_server.connections == 1
    assert all(r["tls"] is not None and r["tls"]["verified"] is True for r in records), records
