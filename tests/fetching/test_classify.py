"""``classify``: which error kind, and which message of an exception chain becomes ``error``.

The chains are built the way requests and urllib3 raise them (requests' exception holding
urllib3's ``MaxRetryError``, whose ``reason`` holds the connection's error, whose ``__cause__``
is the socket's), so each case reads like a failure the crawler meets. The end-to-end cases,
with real servers, are in test_error_kinds.py.
"""

import http.client
import socket
import ssl

import pytest
import requests
import urllib3.exceptions as u3

from healthcrawl.fetching.error_kinds import (
    CLIENT_CERTIFICATE_REQUIRED,
    EMPTY_REPLY,
    EXCERPT_CHARACTERS,
    HTTP2_ONLY,
    ProtocolViolation,
    classify,
    classify_deadline,
    excerpt,
)
from healthcrawl.fetching.network_policy import BlockedAddress

URL = "http://a.example/"


def caused(error: BaseException, cause: BaseException) -> BaseException:
    """``error`` raised ``from cause``."""
    error.__cause__ = cause
    return error


def through_requests(reason: Exception, outer: type = requests.exceptions.ConnectionError) -> Exception:
    """``reason`` as a connection failure reaches the fetcher: requests' ``outer`` around urllib3's retry error."""
    return outer(u3.MaxRetryError(None, URL, reason=reason))


def new_connection_error(cause: OSError) -> u3.NewConnectionError:
    return caused(u3.NewConnectionError(None, f"Failed to establish a new connection: {cause}"), cause)


REFUSED = ConnectionRefusedError(111, "Connection refused")
RESET = ConnectionResetError(104, "Connection reset by peer")
GAIERROR = socket.gaierror(-2, "Name or service not known")
CERT_FAILED = ssl.SSLCertVerificationError(1, "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired")

REAL_CHAINS = {
    "refused": (through_requests(new_connection_error(REFUSED)), "connect_refused", "[Errno 111] Connection refused"),
    "unreachable": (
        through_requests(new_connection_error(OSError(101, "Network is unreachable"))),
        "connect_error",
        "[Errno 101] Network is unreachable",
    ),
    "blocked": (
        through_requests(new_connection_error(BlockedAddress("127.0.0.1 is in a denied network (x)"))),
        "blocked_address",
        "127.0.0.1 is in a denied network (x)",
    ),
    "dns": (
        through_requests(caused(u3.NameResolutionError("a.example", None, GAIERROR), GAIERROR)),
        "dns_error",
        "[Errno -2] Name or service not known",
    ),
    "connect timeout": (
        through_requests(
            caused(u3.ConnectTimeoutError(None, "Connection to a.example timed out."), TimeoutError("timed out")),
            requests.exceptions.ConnectTimeout,
        ),
        "connect_timeout",
        "timed out",
    ),
    "read timeout": (
        requests.exceptions.ReadTimeout(u3.ReadTimeoutError(None, URL, "Read timed out. (read timeout=2)")),
        "timeout",
        "None: Read timed out. (read timeout=2)",  # None: the pool, which urllib3 names here
    ),
    "certificate": (
        through_requests(caused(u3.SSLError(CERT_FAILED), CERT_FAILED), requests.exceptions.SSLError),
        "tls_error",
        "[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: certificate has expired",
    ),
    "reset while reading": (
        requests.exceptions.ChunkedEncodingError(u3.ProtocolError("Connection broken: reset", RESET)),
        "connection_reset",
        "[Errno 104] Connection reset by peer",
    ),
    "empty reply": (
        requests.exceptions.ConnectionError(
            u3.ProtocolError("Connection aborted.", http.client.RemoteDisconnected("Remote end closed connection"))
        ),
        "protocol_error",
        EMPTY_REPLY,
    ),
}


@pytest.mark.parametrize("error, kind, detail", REAL_CHAINS.values(), ids=list(REAL_CHAINS))
def test_a_chain_as_requests_raises_it_gives_its_kind_and_the_innermost_readable_message(error, kind, detail):
    assert classify(error) == (kind, detail)


@pytest.mark.parametrize(
    "error, kind",
    [
        (requests.exceptions.InvalidURL("Invalid URL 'http://'"), "invalid_target"),
        (u3.LocationParseError("http://[x"), "invalid_target"),
        (requests.exceptions.MissingSchema("no scheme"), "invalid_target"),
        (BlockedAddress("10.0.0.1 is in a denied network"), "blocked_address"),
        (requests.exceptions.TooManyRedirects("more than 3 redirects"), "too_many_redirects"),
        (u3.NameResolutionError("a.example", None, GAIERROR), "dns_error"),
        (socket.gaierror(-3, "Temporary failure in name resolution"), "dns_error"),
        (ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number"), "tls_error"),
        (CERT_FAILED, "tls_error"),
        (u3.SSLError("urllib3 says the handshake failed"), "tls_error"),
        (requests.exceptions.SSLError("requests says the handshake failed"), "tls_error"),
        (ConnectionRefusedError(111, "Connection refused"), "connect_refused"),
        (ConnectionResetError(104, "Connection reset by peer"), "connection_reset"),
        (ConnectionAbortedError(103, "Software caused connection abort"), "connection_reset"),
        (BrokenPipeError(32, "Broken pipe"), "connection_reset"),
        (requests.exceptions.ConnectTimeout("connect timed out"), "connect_timeout"),
        (u3.ReadTimeoutError(None, URL, "Read timed out."), "timeout"),
        (requests.exceptions.ReadTimeout("read timed out"), "timeout"),
        (TimeoutError("timed out"), "timeout"),
        (u3.NewConnectionError(None, "Failed to establish a new connection"), "connect_error"),
        (u3.ConnectTimeoutError("connect timed out, urllib3 alone"), "connect_error"),
        (http.client.IncompleteRead(b"ab", 3), "protocol_error"),
        (http.client.LineTooLong("header line"), "protocol_error"),
        (u3.ProtocolError("Connection broken"), "protocol_error"),
        (u3.DecodeError("Received response with content-encoding: gzip, but failed to decode it."), "protocol_error"),
        (u3.HeaderParsingError(defects=[], unparsed_data=b"junk"), "protocol_error"),
        (requests.exceptions.ChunkedEncodingError("bad chunk"), "protocol_error"),
        (requests.exceptions.ContentDecodingError("bad gzip"), "protocol_error"),
        (requests.exceptions.InvalidHeader("bad header"), "protocol_error"),
        (ProtocolViolation("invalid Content-Length '-5'"), "protocol_error"),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, BaseException) else value,
)
def test_every_listed_exception_gives_its_kind_alone(error, kind):
    assert classify(error)[0] == kind


def test_anything_else_is_an_internal_error_naming_the_exception():
    assert classify(ValueError("boom")) == ("internal_error", "ValueError: boom")
    assert classify(KeyError("k")) == ("internal_error", "KeyError: 'k'")


# The kinds in the order classify tries them, each with an exception only it matches.
IN_ORDER = [
    ("invalid_target", lambda: requests.exceptions.InvalidURL("bad url")),
    ("blocked_address", lambda: BlockedAddress("blocked")),
    ("too_many_redirects", lambda: requests.exceptions.TooManyRedirects("too many")),
    ("dns_error", lambda: socket.gaierror(-2, "no name")),
    ("tls_error", lambda: ssl.SSLError(1, "bad handshake")),
    ("connect_refused", lambda: ConnectionRefusedError(111, "refused")),
    ("connection_reset", lambda: ConnectionResetError(104, "reset")),
    ("connect_timeout", lambda: requests.exceptions.ConnectTimeout("connect timed out")),
    ("timeout", lambda: TimeoutError("timed out")),
    ("connect_error", lambda: u3.NewConnectionError(None, "no connection")),
    ("protocol_error", lambda: u3.ProtocolError("broken")),
]


@pytest.mark.parametrize("index", range(len(IN_ORDER) - 1), ids=[kind for kind, _ in IN_ORDER[:-1]])
@pytest.mark.parametrize("link", ["__cause__", "__context__"])
def test_when_a_chain_matches_two_kinds_the_earlier_one_wins_wherever_it_sits(index, link):
    (first, make_first), (second, make_second) = IN_ORDER[index], IN_ORDER[index + 1]
    outer_first, outer_second = make_first(), make_second()
    setattr(outer_first, link, make_second())
    setattr(outer_second, link, make_first())
    assert classify(outer_first)[0] == first
    assert classify(outer_second)[0] == first


def test_the_chain_is_followed_through_reason_cause_context_and_exception_arguments():
    by_reason = u3.MaxRetryError(None, URL, reason=REFUSED)
    by_cause = caused(RuntimeError("wrapper"), REFUSED)
    by_context = RuntimeError("while handling")
    by_context.__context__ = REFUSED
    by_argument = requests.exceptions.ConnectionError(REFUSED)
    for error in (by_reason, by_cause, by_context, by_argument):
        assert classify(error) == ("connect_refused", "[Errno 111] Connection refused")


def test_a_chain_that_loops_back_on_itself_ends():
    first, second = RuntimeError("first"), RuntimeError("second")
    first.__context__, second.__context__ = second, first
    assert classify(first) == ("internal_error", "RuntimeError: first")


def test_the_message_is_the_innermost_non_empty_one_of_an_os_ssl_or_http_error():
    outer = caused(ConnectionRefusedError(111, "refused, outside"), OSError())  # the inner one says nothing
    assert classify(outer) == ("connect_refused", "[Errno 111] refused, outside")
    nested = caused(OSError("outer"), caused(OSError("middle"), ValueError("not an OS error")))
    assert classify(caused(ConnectionRefusedError(111, "refused"), nested))[1] == "middle"


def test_the_innermost_message_is_the_last_one_reached_breadth_first():
    error = u3.MaxRetryError(None, URL, reason=OSError("by reason, one level down"))
    error.__cause__ = OSError("by cause, one level down")
    error.reason.__cause__ = ConnectionRefusedError(111, "two levels down")
    assert classify(error) == ("connect_refused", "[Errno 111] two levels down")
    sibling = u3.MaxRetryError(None, URL, reason=ConnectionRefusedError(111, "reason"))
    sibling.__cause__ = OSError("cause")
    assert classify(sibling) == ("connect_refused", "cause")


def test_messages_of_requests_and_urllib3_wrappers_are_skipped_for_the_error_they_wrap():
    outer = caused(OSError("the socket's own words"), requests.exceptions.ReadTimeout("requests' summary"))
    assert classify(outer) == ("timeout", "the socket's own words")
    broken = requests.exceptions.ChunkedEncodingError(
        u3.ProtocolError("Connection broken: IncompleteRead(5 bytes read, 5 more expected)", u3.IncompleteRead(5, 5))
    )
    kind, detail = classify(broken)
    assert kind == "protocol_error" and detail.startswith("('Connection broken: IncompleteRead(")


def test_without_an_inner_message_the_matching_exception_speaks_on_one_line():
    assert classify(requests.exceptions.TooManyRedirects("more than\n  3 redirects")) == (
        "too_many_redirects",
        "more than 3 redirects",
    )
    assert classify(ConnectionResetError()) == ("connection_reset", "ConnectionResetError")


def test_an_empty_reply_reads_as_one_even_though_it_is_a_connection_reset_too():
    assert classify(http.client.RemoteDisconnected("Remote end closed connection without response")) == (
        "protocol_error",
        EMPTY_REPLY,
    )


@pytest.mark.parametrize(
    "status_line, detail",
    [
        ("\x00\x00\x12\x04\x00", f"{HTTP2_ONLY} (it answered an HTTP/1.1 request with HTTP/2 frames)"),
        ("\x00\x12\x04", "expected an HTTP status line, got '\\x00\\x12\\x04'"),
        ("SSH-2.0-OpenSSH_9.6\r\n", "expected an HTTP status line, got 'SSH-2.0-OpenSSH_9.6\\r\\n'"),
    ],
)
def test_a_bad_status_line_is_an_http2_server_or_quoted(status_line, detail):
    error = requests.exceptions.ConnectionError(u3.ProtocolError("Connection aborted.", http.client.BadStatusLine(status_line)))
    assert classify(error) == ("protocol_error", detail)


def test_a_bad_status_line_without_arguments_is_quoted_empty():
    assert classify(http.client.BadStatusLine.__new__(http.client.BadStatusLine)) == (
        "protocol_error",
        "expected an HTTP status line, got ''",
    )


@pytest.mark.parametrize("marker", ["NO_APPLICATION_PROTOCOL", "no application protocol"])
def test_a_handshake_without_a_common_application_protocol_is_an_http2_only_server(marker):
    detail = f"[SSL: {marker}] tlsv1 alert {marker}"
    assert classify(ssl.SSLError(1, detail)) == (
        "protocol_error",
        f"{HTTP2_ONLY} (the handshake found no common application protocol: {detail})",
    )


@pytest.mark.parametrize("alert", ["TLSV13_ALERT_CERTIFICATE_REQUIRED", "SSLV3_ALERT_BAD_CERTIFICATE"])
def test_a_client_certificate_alert_says_one_is_required(alert):
    detail = f"[SSL: {alert}] alert ({alert.lower()})"
    assert classify(ssl.SSLError(1, detail)) == ("tls_error", f"{CLIENT_CERTIFICATE_REQUIRED} ({detail})")


def test_the_tls_markers_sharpen_only_tls_errors():
    for marker in ("no application protocol", "CERTIFICATE_REQUIRED", "ALERT_BAD_CERTIFICATE"):
        assert classify(ConnectionResetError(104, f"reset ({marker})")) == ("connection_reset", f"[Errno 104] reset ({marker})")
        # a kind that sorts after tls_error, too
        redirects = requests.exceptions.TooManyRedirects(f"more than 3 redirects (last Location: /{marker})")
        assert classify(redirects) == ("too_many_redirects", f"more than 3 redirects (last Location: /{marker})")
    assert classify(ssl.SSLError(1, "handshake failure")) == ("tls_error", "handshake failure")


@pytest.mark.parametrize(
    "phase, kind",
    [("dns", "dns_error"), ("connect", "connect_timeout"), ("tls", "timeout"), ("request", "timeout"), ("body", "timeout")],
)
def test_a_deadline_is_named_after_the_phase_it_ran_out_in(phase, kind):
    assert classify_deadline(phase, 2.5) == (kind, f"no result within the 2.5 s deadline (during {phase})")
    assert classify_deadline(phase, 10.0)[1] == f"no result within the 10 s deadline (during {phase})"


def test_an_excerpt_quotes_at_most_forty_characters_and_counts_the_rest():
    assert EXCERPT_CHARACTERS == 40
    exactly = "x" * 40
    assert excerpt(exactly) == repr(exactly)
    assert excerpt(exactly + "y") == repr(exactly) + " ... (41 characters)"
    assert excerpt("abcdef", limit=3) == "'abc' ... (6 characters)"
    assert excerpt("abc", limit=3) == "'abc'"
    assert excerpt("\x00\n") == "'\\x00\\n'"
