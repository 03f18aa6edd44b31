"""Each way a target can fail gives its own error_kind, against real servers on loopback."""

import time

import pytest

from healthcrawl.records import ERROR_KINDS, RESULT_KEYS
from healthcrawl.testing.crawl import records_by_target, run_crawl
from healthcrawl.testing.dns_server import LocalDNSServer
from healthcrawl.testing.servers import HTTPTestServer, RawTCPServer, free_port


def crawl(targets, **settings):
    config = {"crawl": {"timeout": 2, **settings}, "sources": [{"type": "list", "targets": targets}], "checks": []}
    return records_by_target(run_crawl(config))


def test_healthy_target_record_has_exactly_the_contract_keys(http_server):
    record = crawl([http_server.url("/")])[http_server.url("/")]
    assert list(record) == list(RESULT_KEYS)
    assert record["ok"] is True and record["error_kind"] is None and record["status_code"] == 200
    assert record["body_bytes"] == 2 and record["body_truncated"] is False and record["tls"] is None
    assert record["timings"]["connect_ms"] is not None and record["timings"]["ttfb_ms"] is not None
    assert record["timings"]["dns_ms"] is None  # an IP literal needs no lookup
    assert record["timings"]["total_ms"] >= record["timings"]["ttfb_ms"]


def test_refused_port():
    url = f"http://127.0.0.1:{free_port()}/"
    record = crawl([url])[url]
    assert record["error_kind"] == "connect_refused" and record["ok"] is False
    assert "refused" in record["error"].lower()


def test_full_accept_queue_is_a_connect_timeout():
    with RawTCPServer("backlog_full") as server:
        started = time.monotonic()
        record = crawl([server.url()])[server.url()]
    assert record["error_kind"] == "connect_timeout"
    assert time.monotonic() - started < 2 + 1


def test_unresolvable_name_is_a_dns_error(http_server):
    with LocalDNSServer({"good.test": "127.0.0.1"}) as dns:
        good, bad = f"http://good.test:{http_server.port}/", f"http://missing.test:{http_server.port}/"
        records = crawl([good, bad], nameservers=[dns.address])
    assert records[good]["ok"] is True and records[good]["timings"]["dns_ms"] is not None
    assert records[bad]["error_kind"] == "dns_error"


@pytest.mark.parametrize(
    "behaviour, kind",
    [("garbage", "protocol_error"), ("reset", "connection_reset"), ("close", "protocol_error"), ("h2_only", "protocol_error")],
)
def test_misbehaving_servers(behaviour, kind):
    with RawTCPServer(behaviour) as server:
        record = crawl([server.url()])[server.url()]
    assert record["error_kind"] == kind, record["error"]


@pytest.mark.parametrize(
    "behaviour, detail",
    [
        ("close", "the server closed the connection without sending a response (empty reply)"),
        ("h2_only", "server speaks only HTTP/2 (it answered an HTTP/1.1 request with HTTP/2 frames)"),
    ],
)
def test_an_empty_reply_and_an_http2_only_server_say_so(behaviour, detail):
    with RawTCPServer(behaviour) as server:
        record = crawl([server.url()])[server.url()]
    assert record["error"] == detail


def test_a_required_client_certificate_is_named_and_the_server_certificate_still_verified(healthcrawl_ca):
    with HTTPTestServer(tls=True, ca=healthcrawl_ca, client_ca=healthcrawl_ca) as server:
        url = server.url("/", host="localhost")
        record = crawl([url], verify=healthcrawl_ca.ca_bundle_path)[url]
    assert record["error_kind"] == "tls_error"
    assert record["error"].startswith("the server requires a client certificate (")
    assert record["tls"]["verified"] is True and record["tls"]["version"] == "TLSv1.3"


@pytest.mark.parametrize("route", [{"drip_interval": 1.0, "body": "x" * 60}, {"drip_interval": 1.0, "drip_headers": True}])
def test_slow_drip_hits_the_total_deadline(http_server, route):
    http_server.route("/slow", **route)
    started = time.monotonic()
    record = crawl([http_server.url("/slow")])[http_server.url("/slow")]
    assert record["error_kind"] == "timeout"
    assert time.monotonic() - started < 2 + 1


def test_silent_server_hits_the_total_deadline():
    with RawTCPServer("hang") as server:
        started = time.monotonic()
        record = crawl([server.url()])[server.url()]
    assert record["error_kind"] == "timeout"
    assert time.monotonic() - started < 2 + 1


def test_redirect_is_followed(http_server):
    http_server.route("/old", redirect_to="/mid")
    http_server.route("/mid", redirect_to=http_server.url("/new"), status=301)
    http_server.route("/new", body="moved here")
    record = crawl([http_server.url("/old")])[http_server.url("/old")]
    assert record["ok"] is True and record["status_code"] == 200
    assert record["final_url"] == http_server.url("/new") and record["redirects"] == 2


def test_redirect_loop_stops_at_max_redirects(http_server):
    http_server.route("/a", redirect_to="/b")
    http_server.route("/b", redirect_to="/a")
    record = crawl([http_server.url("/a")], max_redirects=5)[http_server.url("/a")]
    assert record["error_kind"] == "too_many_redirects"
    assert http_server.hits["/a"] + http_server.hits["/b"] == 6


def test_invalid_line_is_recorded_and_the_crawl_goes_on(http_server):
    records = crawl(["not a url", "ftp://example.com/", http_server.url("/")])
    assert records["not a url"]["error_kind"] == "invalid_target"
    assert records["ftp://example.com/"]["error_kind"] == "invalid_target"
    assert records[http_server.url("/")]["ok"] is True


def test_every_error_kind_is_in_the_contract():
    assert set(ERROR_KINDS) == {
        "invalid_target", "dns_error", "connect_refused", "connect_timeout", "connect_error", "tls_error",
        "connection_reset", "timeout", "protocol_error", "too_many_redirects", "internal_error", "blocked_address",
    }


def test_user_agent_and_prepare_request_hook(http_server, register_plugin):
    from healthcrawl import hookimpl

    class AddToken:
        @hookimpl
        def healthcrawl_prepare_request(self, request):
            request.headers["Authorization"] = "Bearer t0ken"

    register_plugin(AddToken())
    crawl([http_server.url("/")], user_agent="probe/1.0")
    headers = http_server.last_headers["/"]
    assert headers["User-Agent"] == "probe/1.0" and headers["Authorization"] == "Bearer t0ken"


def test_garbage_instead_of_http_is_quoted_short_and_printable():
    with RawTCPServer("garbage") as server:
        record = crawl([server.url()])[server.url()]
    assert record["error"] == "expected an HTTP status line, got 'SSH-2.0-OpenSSH_9.6\\r\\n'"


def test_binary_garbage_is_an_escaped_excerpt_saying_how_much_came():
    import random

    import gevent.server

    seed = 20261201
    print(f"seed {seed}")
    noise = bytes(random.Random(seed).randrange(256) for _ in range(700)).replace(b"\n", b"") + b"\n"

    def answer(sock, address):
        sock.recv(65536)
        sock.sendall(noise)
        sock.close()

    server = gevent.server.StreamServer(("127.0.0.1", 0), answer)
    server.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/"
        record = crawl([url])[url]
    finally:
        server.stop()
    assert record["error_kind"] == "protocol_error"
    assert record["error"].startswith("expected an HTTP status line, got '") and record["error"].isprintable()
    assert len(record["error"]) < 300 and f"({len(noise)} characters)" in record["error"]


def test_a_body_cut_short_by_the_deadline_records_the_bytes_that_came(http_server):
    http_server.route("/drip", drip_interval=0.2, body="x" * 60)
    record = crawl([http_server.url("/drip")])[http_server.url("/drip")]
    assert record["error_kind"] == "timeout" and record["status_code"] == 200
    assert 1 <= record["body_bytes"] < 60
