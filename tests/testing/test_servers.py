"""The loopback test-server kit, exercised with plain socket, ssl, http.client, requests and dnspython."""

import datetime
import gzip
import http.client
import socket
import ssl
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import gevent
import pytest
import requests
from cryptography import x509

from healthcrawl.testing.certs import CertAuthority
from healthcrawl.testing.dns_server import LocalDNSServer
from healthcrawl.testing.servers import HANG_SECONDS, HTTPTestServer, RawTCPServer, free_port

GIGABYTE = 1024**3
TCP_STATE_TIME_WAIT = "06"
PATIENCE = 30.0
"""Seconds to wait for what should happen at once on loopback: a bound against hanging, not a speed test."""


@pytest.fixture(scope="module")
def ca():
    with CertAuthority() as authority:
        yield authority


@pytest.fixture
def session():
    """A requests session that ignores proxy settings from the environment."""
    with requests.Session() as client:
        client.trust_env = False
        yield client


def wait_until(predicate, timeout=PATIENCE):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        gevent.sleep(0.01)


def send_request(port, path="/", host="127.0.0.1", timeout=PATIENCE):
    """Open a connection, send a bare GET and return the socket for reading."""
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
    return sock


def peer_certificate(server, ca):
    """The certificate the server presents, fetched without verification."""
    context = ssl.create_default_context(cafile=ca.ca_bundle_path)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with socket.create_connection((server.host, server.port), timeout=PATIENCE) as raw:
        with context.wrap_socket(raw) as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


def time_wait_local_ports():
    """Local ports of this machine's IPv4 sockets in TIME_WAIT."""
    with open("/proc/net/tcp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return {int(row[1].split(":")[1], 16) for row in rows if row[3] == TCP_STATE_TIME_WAIT}


# --- HTTP ---------------------------------------------------------------------------------


def test_default_routes_count_hits_and_keep_the_last_headers(session):
    with HTTPTestServer() as srv:
        root = session.get(srv.url("/"), headers={"User-Agent": "healthcrawl-test/1"}, timeout=PATIENCE)
        missing = session.get(srv.url("/nope?x=1"), timeout=PATIENCE)
    assert (root.status_code, root.content) == (200, b"ok")
    assert (missing.status_code, missing.content) == (404, b"not found")
    assert srv.hits == {"/": 1, "/nope": 1}
    assert srv.last_headers["/"]["user-agent"] == "healthcrawl-test/1"
    assert srv.base_url == f"http://127.0.0.1:{srv.port}"


def test_requests_are_recorded_with_their_bodies(session):
    with HTTPTestServer() as srv:
        srv.route("/hook", status=204, body=b"")
        session.post(srv.url("/hook"), json={"target": "a"}, headers={"X-Token": "t"}, timeout=PATIENCE)
        session.get(srv.url("/"), timeout=PATIENCE)
    posted, fetched = srv.requests
    assert (posted.method, posted.path, posted.body) == ("POST", "/hook", b'{"target": "a"}')
    assert posted.headers["x-token"] == "t" and posted.headers["Content-Type"] == "application/json"
    assert (fetched.method, fetched.path, fetched.body) == ("GET", "/", b"")


def test_a_route_with_times_answers_that_often_then_falls_back(session):
    with HTTPTestServer() as srv:
        srv.route("/flaky", body="healthy")
        srv.route("/flaky", status=503, body="busy", times=2)
        codes = [session.get(srv.url("/flaky"), timeout=PATIENCE).status_code for _ in range(4)]
    assert codes == [503, 503, 200, 200]


def test_route_sets_status_body_and_headers_and_head_gets_no_body(session):
    with HTTPTestServer() as srv:
        tea_headers = {"content-type": "text/tea", "X-A": "1"}
        srv.route("/teapot", status=418, body="short and stout", headers=tea_headers)
        response = session.get(srv.url("/teapot"), timeout=PATIENCE)
        head = session.head(srv.url("/teapot"), timeout=PATIENCE)
        after_head = session.get(srv.url("/"), timeout=PATIENCE)
    assert (response.status_code, response.content) == (418, b"short and stout")
    assert response.headers["Content-Type"] == "text/tea"
    assert response.headers["X-A"] == "1"
    assert head.content == b"" and head.headers["Content-Length"] == "15"
    assert after_head.content == b"ok"
    assert srv.connections == 1


def test_keep_alive_connection_is_closed_first_by_the_client_which_gets_time_wait():
    with HTTPTestServer() as srv:
        connection = http.client.HTTPConnection(srv.host, srv.port, timeout=PATIENCE)
        for _ in range(3):
            connection.request("GET", "/")
            assert connection.getresponse().read() == b"ok"
        client_port = connection.sock.getsockname()[1]
        assert srv.active_handlers == 1
        connection.close()
        wait_until(lambda: srv.active_handlers == 0)
        assert srv.connections == 1
    assert client_port in time_wait_local_ports()


def test_localhost_and_other_loopback_addresses_need_bind_all_loopback(session):
    with HTTPTestServer(bind_all_loopback=True) as srv:
        for host in ("localhost", "127.0.0.2", "127.1.2.3"):
            assert session.get(srv.url("/", host=host), timeout=PATIENCE).content == b"ok"
    with HTTPTestServer() as srv:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.2", srv.port), timeout=PATIENCE)


def test_delay_holds_the_response_back(session):
    with HTTPTestServer() as srv:
        srv.route("/slow", delay=0.3)
        with pytest.raises(requests.exceptions.ReadTimeout):
            session.get(srv.url("/slow"), timeout=0.1)
        started = time.monotonic()
        assert session.get(srv.url("/slow"), timeout=PATIENCE).content == b"ok"
    assert time.monotonic() - started >= 0.3


def test_drip_body_sends_headers_at_once_and_the_body_byte_by_byte():
    with HTTPTestServer() as srv:
        srv.route("/drip", body=b"abcde", drip_interval=0.1)
        asked = time.monotonic()  # before the request: the server's five sleeps all come after it
        sock = send_request(srv.port, "/drip")
        with sock, sock.makefile("rb") as reply:
            assert reply.readline() == b"HTTP/1.1 200 OK\r\n"
            while reply.readline() != b"\r\n":
                pass
            assert reply.read(5) == b"abcde"
        assert time.monotonic() - asked >= 0.5  # a lower bound: a loaded machine only makes it longer
    with pytest.raises(ValueError):
        srv.route("/long", body=b"x" * 121, drip_interval=1.0)


def test_drip_headers_sends_the_status_line_byte_by_byte():
    with HTTPTestServer() as srv:
        srv.route("/drip", drip_interval=0.2, drip_headers=True)
        with send_request(srv.port, "/drip", timeout=0.1) as sock:
            with pytest.raises(TimeoutError):
                sock.recv(100)
            sock.settimeout(1.0)
            assert sock.recv(100) == b"H"


def test_body_size_streams_10_gb_and_stops_when_the_client_disconnects(session):
    with HTTPTestServer() as srv:
        srv.route("/big", body_size=10 * GIGABYTE)
        response = session.get(srv.url("/big"), stream=True, timeout=PATIENCE)
        assert response.headers["Content-Length"] == str(10 * GIGABYTE)
        received = 0
        for chunk in response.iter_content(64 * 1024):
            received += len(chunk)
            if received >= 1024 * 1024:
                break
        assert set(chunk) == {ord("x")}
        response.close()
        wait_until(lambda: srv.active_handlers == 0)


def test_gzip_bomb_is_small_on_the_wire_and_inflates_to_the_announced_size(session):
    size = 5 * 1024 * 1024 + 123
    with HTTPTestServer() as srv:
        srv.route("/bomb", gzip_bomb_size=size)
        srv.route("/huge-bomb", gzip_bomb_size=10 * GIGABYTE)
        raw = session.get(srv.url("/bomb"), stream=True, timeout=PATIENCE)
        wire = raw.raw.read(decode_content=False)
        decoded = session.get(srv.url("/bomb"), timeout=PATIENCE).content
        huge = session.head(srv.url("/huge-bomb"), timeout=PATIENCE)
    assert raw.headers["Content-Encoding"] == "gzip"
    assert len(wire) == int(raw.headers["Content-Length"]) < size / 500
    assert gzip.decompress(wire) == bytes(size)
    assert decoded == bytes(size)
    assert int(huge.headers["Content-Length"]) < 10 * GIGABYTE / 900


def test_redirects_and_a_redirect_loop(session):
    with HTTPTestServer() as srv:
        srv.route("/old", redirect_to="/new")
        srv.route("/new", body="moved here")
        srv.route("/permanent", status=301, redirect_to=srv.url("/new"))
        srv.route("/a", redirect_to="/b")
        srv.route("/b", redirect_to="/a")
        followed = session.get(srv.url("/old"), timeout=PATIENCE)
        permanent = session.get(srv.url("/permanent"), allow_redirects=False, timeout=PATIENCE)
        session.max_redirects = 5
        with pytest.raises(requests.TooManyRedirects):
            session.get(srv.url("/a"), timeout=PATIENCE)
    assert [r.status_code for r in followed.history] == [302]
    assert (followed.url, followed.content) == (srv.url("/new"), b"moved here")
    assert (permanent.status_code, permanent.headers["Location"]) == (301, srv.url("/new"))
    assert srv.hits["/a"] + srv.hits["/b"] == 6


# --- TLS ----------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_valid_certificate_verifies_against_the_ca_bundle(ca, session, host):
    with HTTPTestServer(tls=True, ca=ca) as srv:
        response = session.get(srv.url("/", host=host), verify=ca.ca_bundle_path, timeout=PATIENCE)
    assert (response.status_code, response.content) == (200, b"ok")
    assert srv.base_url.startswith("https://")
    assert ca.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("expired", "certificate has expired"),
        ("untrusted", "unable to get local issuer certificate"),
        ("wrong_host", "Hostname mismatch"),
    ],
)
def test_broken_certificates_fail_verification_quietly(ca, capfd, kind, reason):
    client_context = ssl.create_default_context(cafile=ca.ca_bundle_path)
    with HTTPTestServer(tls=True, ca=ca, tls_kind=kind) as srv:
        with socket.create_connection((srv.host, srv.port), timeout=PATIENCE) as raw:
            with pytest.raises(ssl.SSLCertVerificationError, match=reason):
                client_context.wrap_socket(raw, server_hostname="localhost")
        wait_until(lambda: srv.active_handlers == 0)
    assert capfd.readouterr().err == ""


def test_days_left_sets_not_after(ca):
    with HTTPTestServer(tls=True, ca=ca, days_left=5) as srv:
        certificate = peer_certificate(srv, ca)
    expected = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=5)
    assert abs(certificate.not_valid_after_utc - expected) < datetime.timedelta(minutes=1)


def test_expired_certificate_expired_three_days_ago(ca):
    with HTTPTestServer(tls=True, ca=ca, tls_kind="expired") as srv:
        certificate = peer_certificate(srv, ca)
    expected = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=3)
    assert abs(certificate.not_valid_after_utc - expected) < datetime.timedelta(minutes=1)
    with pytest.raises(ValueError):
        ca.server_context("expired", days_left=2)


def test_tls_server_without_a_ca_makes_its_own_and_removes_its_bundle(session):
    with HTTPTestServer(tls=True) as srv:
        bundle = srv.ca.ca_bundle_path
        assert session.get(srv.url(), verify=bundle, timeout=PATIENCE).content == b"ok"
    with pytest.raises(FileNotFoundError):
        open(bundle)


# --- raw TCP ------------------------------------------------------------------------------


def test_hang_accepts_and_never_answers_and_stop_does_not_wait_for_it():
    srv = RawTCPServer("hang").start()
    with send_request(srv.port, timeout=0.3) as sock:
        with pytest.raises(TimeoutError):
            sock.recv(1)
        wait_until(lambda: srv.active_handlers == 1)  # the hanging handler holds the connection for HANG_SECONDS
        waiting_it_out = AssertionError(f"stop() waited for the handler's {HANG_SECONDS} s hang")
        with gevent.Timeout(HANG_SECONDS / 10, waiting_it_out):
            srv.stop()
        assert srv.active_handlers == 0, "stop() killed the handler"
        srv.stop()
        sock.settimeout(PATIENCE)
        with pytest.raises(ConnectionResetError):  # closed with our request unread: Linux sends RST
            sock.recv(1)


def test_reset_resets_the_connection(session):
    with RawTCPServer("reset") as srv:
        with send_request(srv.port) as sock:
            with pytest.raises(ConnectionResetError):
                sock.recv(1)
        with pytest.raises(requests.ConnectionError, match="reset"):
            session.get(srv.url(), timeout=PATIENCE)


def test_garbage_is_not_http(session):
    with RawTCPServer("garbage") as srv:
        with send_request(srv.port) as sock, sock.makefile("rb") as reply:
            assert reply.read() == b"SSH-2.0-OpenSSH_9.6\r\nthis is not http\r\n"
        with pytest.raises(requests.ConnectionError, match="BadStatusLine"):
            session.get(srv.url(), timeout=PATIENCE)
        with pytest.raises(requests.exceptions.SSLError):
            session.get(srv.url(scheme="https"), timeout=PATIENCE)


def test_close_closes_without_a_response():
    with RawTCPServer("close") as srv:
        with send_request(srv.port) as sock:
            assert sock.recv(1) == b""
        connection = http.client.HTTPConnection(srv.host, srv.port, timeout=PATIENCE)
        connection.request("GET", "/")
        with pytest.raises(http.client.RemoteDisconnected):
            connection.getresponse()
        connection.close()


def test_backlog_full_makes_connect_time_out():
    with RawTCPServer("backlog_full") as srv:
        with pytest.raises(TimeoutError):  # neither accepted nor refused: the SYN is dropped
            socket.create_connection((srv.host, srv.port), timeout=1.0)


def test_free_port_is_refused_and_non_loopback_addresses_are_rejected():
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", free_port()), timeout=PATIENCE)
    with pytest.raises(ValueError):
        free_port("192.0.2.2")
    with pytest.raises(ValueError):
        RawTCPServer("hang", host="localhost")


# --- DNS ----------------------------------------------------------------------------------


def ask(dns_server, name, rdtype="A", timeout=PATIENCE):
    query = dns.message.make_query(name, rdtype)
    return dns.query.udp(query, "127.0.0.1", port=dns_server.port, timeout=timeout)


def answer_addresses(response):
    return sorted(rdata.address for rrset in response.answer for rdata in rrset)


def test_dns_answers_known_names_case_insensitively_and_nxdomain_for_others():
    records = {"Example.test.": ["127.0.0.7", "127.0.0.8"], "v6.test": "::1"}
    with LocalDNSServer(records) as dns_server:
        assert dns_server.address == f"127.0.0.1:{dns_server.port}"
        known = ask(dns_server, "EXAMPLE.test")
        ipv6 = ask(dns_server, "v6.test.", "AAAA")
        no_ipv6 = ask(dns_server, "example.test", "AAAA")
        unknown = ask(dns_server, "unknown.test")
        assert dns_server.queries == 4
    assert (known.rcode(), answer_addresses(known)) == (dns.rcode.NOERROR, ["127.0.0.7", "127.0.0.8"])
    assert answer_addresses(ipv6) == ["::1"]
    assert (no_ipv6.rcode(), no_ipv6.answer) == (dns.rcode.NOERROR, [])
    assert unknown.rcode() == dns.rcode.NXDOMAIN


def test_dns_delay_makes_the_query_time_out():
    with LocalDNSServer({"slow.test": "127.0.0.1"}, delay=1.0) as dns_server:
        with pytest.raises(dns.exception.Timeout):
            ask(dns_server, "slow.test", timeout=0.2)
        dns_server.delay = 0.0
        assert answer_addresses(ask(dns_server, "slow.test")) == ["127.0.0.1"]
