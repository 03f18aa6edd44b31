"""Answers at the edges of HTTP/1.1, sent byte for byte by a loopback server: framing and redirects."""

import pytest

from healthcrawl.testing.crawl import records_by_target, run_crawl
from healthcrawl.testing.servers import BackgroundServer, HTTPTestServer, _listening_socket

HEAD_END = b"\r\n\r\n"


class CannedResponseServer(BackgroundServer):
    """Reads one request head per connection, answers exactly ``response`` and closes."""

    def __init__(self, response: bytes) -> None:
        self.response = response
        super().__init__(_listening_socket("127.0.0.1"))

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def _handle(self, sock, address) -> None:
        head = b""
        while HEAD_END not in head and (chunk := sock.recv(4096)):
            head += chunk
        sock.sendall(self.response)


def fetch(url: str) -> dict:
    config = {"crawl": {"timeout": 2}, "sources": [{"type": "list", "targets": [url]}], "checks": []}
    return records_by_target(run_crawl(config))[url]


def answer(response: bytes) -> dict:
    with CannedResponseServer(response) as server:
        return fetch(server.url())


@pytest.mark.parametrize(
    "content_length, error",
    [
        (b"-5", "invalid Content-Length '-5'"),
        (b"abc", "invalid Content-Length 'abc'"),
        (b"+5", "invalid Content-Length '+5'"),
        (b"5_0", "invalid Content-Length '5_0'"),  # int() would read 50
        ("٥".encode(), "invalid Content-Length"),  # an Arabic-Indic five: a digit to str.isdigit(), not to HTTP
        (b"", "invalid Content-Length ''"),
        (b"5, 3", "Content-Length contained multiple unmatching values (5, 3)"),
        (b"5\r\nContent-Length: 3", "Content-Length contained multiple unmatching values (5, 3)"),
    ],
)
def test_an_invalid_or_conflicting_content_length_is_a_protocol_error(content_length, error):
    record = answer(b"HTTP/1.1 200 OK\r\nContent-Length: " + content_length + b"\r\n\r\nhello")
    assert record["error_kind"] == "protocol_error" and record["ok"] is False
    assert record["error"].startswith(error)


@pytest.mark.parametrize("content_length", [b"5", b" 5 ", b"5, 5", b"5\r\nContent-Length: 5", b"05"])
def test_a_valid_content_length_and_equal_copies_of_it_are_read(content_length):
    record = answer(b"HTTP/1.1 200 OK\r\nContent-Length: " + content_length + b"\r\n\r\nhello")
    assert record["ok"] is True and record["body_bytes"] == 5, record["error"]


def test_an_invalid_content_length_on_a_redirect_is_a_protocol_error_too(http_server):
    record = answer(
        f"HTTP/1.1 302 Found\r\nLocation: {http_server.url('/')}\r\nContent-Length: -1\r\n\r\n".encode()
    )
    assert record["error_kind"] == "protocol_error" and record["error"] == "invalid Content-Length '-1'"
    assert http_server.hits["/"] == 0


@pytest.mark.parametrize(
    "location, path",
    [
        ("{base}/a\r\n b", "/a%20b"),  # a fold inside the value becomes a space, then %20 as it is sent
        ("\r\n\t{base}/ok", "/ok"),  # a value that starts on a continuation line
        ("{base}/a b", "/a%20b"),  # a bare space: sent (and shown) percent-encoded
    ],
)
def test_the_final_url_of_a_redirect_is_the_url_requested_without_spaces(location, path):
    with HTTPTestServer() as target:
        target.route(path, body="arrived")
        location = location.format(base=target.base_url)
        record = answer(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode("utf-8"))
        assert target.hits[path] == 1
    assert record["ok"] is True and record["status_code"] == 200, record["error"]
    assert record["final_url"] == target.url(path) and " " not in record["final_url"]


@pytest.mark.parametrize(
    "location, scheme",
    [
        ("file:///etc/passwd", "file"),
        ("javascript:alert(1)", "javascript"),
        ("data:text/plain,hi", "data"),
        ("ftp://127.0.0.1/x", "ftp"),
        ("FILE:///etc/passwd", "file"),
        ("gopher://127.0.0.1:6379/_INFO", "gopher"),
    ],
)
def test_a_redirect_to_an_unsupported_scheme_says_so(location, scheme):
    record = answer(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())
    assert record["error_kind"] == "protocol_error"
    assert record["error"].startswith(f"redirect to unsupported scheme '{scheme}' (Location: ")
    assert record["redirects"] == 0 and record["final_url"].startswith("http://127.0.0.1:")


def test_a_redirect_to_an_http_url_without_a_host_says_it_cannot_be_requested():
    record = answer(b"HTTP/1.1 302 Found\r\nLocation: https://\r\nContent-Length: 0\r\n\r\n")
    assert record["error_kind"] == "protocol_error"
    assert record["error"].startswith("redirect to a URL that cannot be requested: ")


def test_a_redirect_to_a_broken_ipv6_literal_says_it_cannot_be_requested():
    record = answer(b"HTTP/1.1 302 Found\r\nLocation: http://[::1/\r\nContent-Length: 0\r\n\r\n")
    assert record["error_kind"] == "protocol_error"
    assert record["error"] == "redirect to a URL that cannot be requested: Invalid IPv6 URL (Location: 'http://[::1/')"
