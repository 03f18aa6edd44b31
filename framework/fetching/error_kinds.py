"""Map what went wrong during a fetch to one ``error_kind`` of the result contract."""

from __future__ import annotations

import http.client
import socket
import ssl

import requests
import urllib3.exceptions as u3

from healthcrawl.errors import one_line
from healthcrawl.fetching.network_policy import BlockedAddress

EMPTY_REPLY = "the server closed the connection without sending a response (empty reply)"
HTTP2_ONLY = "server speaks only HTTP/2"
HTTP2_ONLY_CLOSED = f"{HTTP2_ONLY} (it closed the connection on an HTTP/1.1 request and answers the HTTP/2 preface)"
CLIENT_CERTIFICATE_REQUIRED = "the server requires a client certificate"
_HTTP2_FRAME_START = "\x00\x00"
"""How the bytes an HTTP/2 server sends first (a SETTINGS frame's length) look where a status line should be."""
_CLIENT_CERTIFICATE_ALERTS = ("CERTIFICATE_REQUIRED", "ALERT_BAD_CERTIFICATE")
"""Alerts a server sends about the client's certificate: TLS 1.3's "certificate required", or "bad
certificate" (Go's servers send it when none came); a TLS 1.2 refusal is a bare "handshake failure"."""
_NO_APPLICATION_PROTOCOL = ("NO_APPLICATION_PROTOCOL", "no application protocol")


class ProtocolViolation(Exception):
    """The server's answer breaks HTTP in a way the crawler does not work around: a ``protocol_error``.

    For example an invalid ``Content-Length`` or a redirect to a URL that cannot be fetched.
    """

# Checked in order: the first kind with a matching exception anywhere in the chain wins.
_KINDS_BY_EXCEPTION: tuple[tuple[str, tuple[type[BaseException], ...]], ...] = (
    ("invalid_target", (requests.exceptions.InvalidURL, u3.LocationParseError, requests.exceptions.MissingSchema)),
    ("blocked_address", (BlockedAddress,)),
    ("too_many_redirects", (requests.exceptions.TooManyRedirects,)),
    ("dns_error", (u3.NameResolutionError, socket.gaierror)),
    ("tls_error", (ssl.SSLError, ssl.CertificateError, u3.SSLError, requests.exceptions.SSLError)),
    ("connect_refused", (ConnectionRefusedError,)),
    ("connection_reset", (ConnectionResetError, ConnectionAbortedError, BrokenPipeError)),
    # urllib3's NewConnectionError subclasses ConnectTimeoutError: a socket timeout tells them apart.
    ("connect_timeout", (requests.exceptions.ConnectTimeout,)),
    ("timeout", (u3.ReadTimeoutError, requests.exceptions.ReadTimeout, TimeoutError)),
    ("connect_error", (u3.NewConnectionError, u3.ConnectTimeoutError)),
    (
        "protocol_error",
        (
            http.client.HTTPException,
            u3.ProtocolError,
            u3.DecodeError,
            u3.HeaderParsingError,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
            requests.exceptions.InvalidHeader,
            ProtocolViolation,
        ),
    ),
)

_DEADLINE_KIND_BY_PHASE = {"dns": "dns_error", "connect": "connect_timeout"}


EXCERPT_CHARACTERS = 40
"""How much of a peer's unexpected bytes an error quotes."""


def classify(error: BaseException) -> tuple[str, str]:
    """Return ``(error_kind, detail)`` for an exception raised while fetching a target.

    Failures that look alike are told apart: an empty reply and an HTTP/2-only server
    (``protocol_error``), a server that wants a client certificate (``tls_error``).
    """
    chain = list(_exception_chain(error))
    for kind, types in _KINDS_BY_EXCEPTION:
        for cause in chain:
            if isinstance(cause, types):
                return _sharpened(kind, chain, _detail(cause, chain))
    return "internal_error", f"{type(error).__name__}: {error}"


def _sharpened(kind: str, chain: list[BaseException], detail: str) -> tuple[str, str]:
    """``(kind, detail)``, the detail led by what the failure means when it is easy to misread.

    ``RemoteDisconnected`` is a ``ConnectionResetError`` too, but no reset happened: the peer
    closed cleanly before any status line.
    """
    if any(isinstance(cause, http.client.RemoteDisconnected) for cause in chain):
        return "protocol_error", EMPTY_REPLY
    if any(_is_http2_preface(cause) for cause in chain):
        return "protocol_error", f"{HTTP2_ONLY} (it answered an HTTP/1.1 request with HTTP/2 frames)"
    if kind == "tls_error" and any(marker in detail for marker in _NO_APPLICATION_PROTOCOL):
        return "protocol_error", f"{HTTP2_ONLY} (the handshake found no common application protocol: {detail})"
    if kind == "tls_error" and any(marker in detail for marker in _CLIENT_CERTIFICATE_ALERTS):
        return kind, f"{CLIENT_CERTIFICATE_REQUIRED} ({detail})"
    bad_line = next((cause for cause in chain if isinstance(cause, http.client.BadStatusLine)), None)
    if bad_line is not None:
        return "protocol_error", f"expected an HTTP status line, got {excerpt(bad_line.args[0] if bad_line.args else '')}"
    return kind, detail


def excerpt(text: str, limit: int = EXCERPT_CHARACTERS) -> str:
    """The start of what a peer sent, quoted and escaped so that it is printable and short."""
    shown = repr(text[:limit])
    return shown + f" ... ({len(text)} characters)" if len(text) > limit else shown


def classify_deadline(phase: str, seconds: float) -> tuple[str, str]:
    """Return ``(error_kind, detail)`` for a target that ran out of its total deadline in ``phase``."""
    kind = _DEADLINE_KIND_BY_PHASE.get(phase, "timeout")
    return kind, f"no result within the {seconds:g} s deadline (during {phase})"


def _is_http2_preface(cause: BaseException) -> bool:
    """Whether ``cause`` is a bad status line that is really the start of an HTTP/2 frame."""
    if not isinstance(cause, http.client.BadStatusLine):
        return False
    return bool(cause.args) and str(cause.args[0]).startswith(_HTTP2_FRAME_START)


def _exception_chain(error: BaseException):
    """The exception and everything it wraps: requests' args, urllib3's ``reason``, causes and contexts."""
    seen: set[int] = set()
    pending = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        wrapped = [getattr(current, "reason", None), current.__cause__, current.__context__]
        wrapped.extend(arg for arg in getattr(current, "args", ()) if isinstance(arg, BaseException))
        pending.extend(w for w in wrapped if isinstance(w, BaseException))


def _detail(cause: BaseException, chain: list[BaseException]) -> str:
    """The most specific readable message: the innermost OS or SSL error when there is one."""
    for inner in reversed(chain):
        if isinstance(inner, (OSError, ssl.SSLError, http.client.HTTPException)) and str(inner):
            if not isinstance(inner, (u3.HTTPError, requests.exceptions.RequestException)):
                return one_line(inner)
    return one_line(cause)
