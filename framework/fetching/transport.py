"""The HTTP transport: one request per call, traced, on sockets that close with a reset.

Every socket it opens (direct, TLS, through a proxy, and the unverified handshake that
reads a rejected certificate) has ``SO_LINGER(1, 0)`` when ``linger`` is on, so closing
a finished connection sends RST and leaves no TIME_WAIT entry behind, plus urllib3's
default options (``TCP_NODELAY``). ``Transport.get`` takes the fetch's ``FetchTrace`` and
makes it the active trace for the one send, which is how it reaches the connection
classes (``healthcrawl.fetching.trace`` says why a context variable and why that is safe).
"""

from __future__ import annotations

import functools
import re
import socket
import ssl
import struct
from urllib.parse import urlsplit

import requests
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection

from healthcrawl.fetching.adapter import PoolSettings, PoolSettingsAdapter, build_ssl_context
from healthcrawl.fetching.connections import connect_socket, traced_pool_classes
from healthcrawl.fetching.error_kinds import ProtocolViolation, excerpt
from healthcrawl.fetching.network_policy import OPEN, NetworkPolicy
from healthcrawl.fetching.resolver import Resolver, is_ip_literal
from healthcrawl.fetching.trace import FetchTrace, Handshake, sending_with

LINGER_ZERO = (socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
"""Close with RST instead of FIN: no TIME_WAIT entry is left on either side."""
HTTP2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"
"""The HTTP/2 connection preface and an empty SETTINGS frame: what an HTTP/2 client sends first."""
FRAME_HEADER_BYTES = 9
SETTINGS_FRAME = 0x04
_CONTENT_LENGTH = re.compile(r"[0-9]+")
"""RFC 9110's ``Content-Length = 1*DIGIT`` (Python's ``int()`` also takes signs, underscores and other digits)."""


class Transport:
    """Sends one request per call through a ``PoolSettingsAdapter``, skipping what ``requests.Session`` does per request.

    A session merges settings, looks up proxies and netrc in the environment, runs hooks and
    keeps a cookie jar on every request; a crawl needs none of it. The base headers, the
    proxy map and the verify flag are settled once here, and each request is a
    ``PreparedRequest`` handed straight to the adapter. ``timeout`` bounds each socket
    operation (connect, each read); the caller bounds the whole fetch. Requests with a client
    certificate (mTLS) go through an adapter of their own per certificate, whose SSL context
    holds it, so that no other request ever presents it. Every socket, the follow-up probes'
    included, connects only where ``network_policy`` allows (to the proxy's address, when
    there is a proxy).
    """

    def __init__(
        self,
        resolver: Resolver,
        *,
        linger: bool,
        verify: bool | str,
        user_agent: str,
        proxy: str | None,
        pool_size: int,
        timeout: float,
        network_policy: NetworkPolicy = OPEN,
    ):
        self.resolver = resolver
        self.network_policy = network_policy
        self.timeout = timeout
        self.socket_options = list(HTTPConnection.default_socket_options) + ([LINGER_ZERO] if linger else [])
        self.pool_size = pool_size
        self._verify_setting = verify
        self._pool_classes = traced_pool_classes(resolver, network_policy)
        self.adapter = self._new_adapter(build_ssl_context(verify))
        self._client_cert_adapters: dict[tuple[str, str | None], PoolSettingsAdapter] = {}
        # Ask for identity or gzip only: what we can bound while decoding.
        self.headers = {"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate", "Accept": "*/*"}
        self.proxies = {"http": proxy, "https": proxy} if proxy else {}
        # The adapter's SSL context holds the CA bundle; the adapter only needs to know whether to verify.
        self.verify = verify is not False

    def send(
        self,
        url: str,
        *,
        headers: dict[str, str],
        auth: tuple[str, str] | None,
        normalised: bool,
        trace: FetchTrace,
        method: str = "GET",
        body: bytes | None = None,
        cookies: RequestsCookieJar | None = None,
        client_cert: tuple[str, str | None] | None = None,
    ) -> requests.Response:
        """Send ``method url`` and return the streamed response; the connections fill ``trace``.

        ``normalised`` URLs (what ``parse_target`` made) skip requests' URL preparation;
        ``cookies`` are those an earlier hop of the same redirect chain set; ``client_cert``
        is ``(certificate file, key file or None)`` for a server that asks for one.
        """
        request = requests.PreparedRequest()
        request.method = method
        if normalised:
            request.url = url
        else:
            request.prepare_url(url, None)
        request.headers = CaseInsensitiveDict(self.headers)
        request.headers.update(headers)
        if body is not None:
            request.prepare_body(body, None)
        if auth is not None:
            request.prepare_auth(auth)
        if cookies:
            request.prepare_cookies(cookies)
        adapter = self.adapter if client_cert is None else self._client_cert_adapter(client_cert)
        with sending_with(trace):
            response = adapter.send(
                request, stream=True, timeout=(self.timeout, self.timeout), verify=self.verify, proxies=self.proxies
            )
        trace.response_head_arrived()
        problem = content_length_problem(response.headers.get("Content-Length"))
        if problem is not None:
            response.close()  # where the body ends is unknown: the connection is not reused
            raise ProtocolViolation(problem)
        return response

    def _new_adapter(self, ssl_context: ssl.SSLContext) -> PoolSettingsAdapter:
        settings = PoolSettings(self.socket_options, ssl_context, self._pool_classes)
        return PoolSettingsAdapter(settings, pool_connections=self.pool_size, pool_maxsize=self.pool_size, max_retries=0)

    def _client_cert_adapter(self, client_cert: tuple[str, str | None]) -> PoolSettingsAdapter:
        """The adapter whose connections present ``client_cert``, built on first use."""
        adapter = self._client_cert_adapters.get(client_cert)
        if adapter is None:
            context = build_ssl_context(self._verify_setting)
            context.load_cert_chain(*client_cert)
            adapter = self._client_cert_adapters[client_cert] = self._new_adapter(context)
        return adapter

    def read_unverified_handshake(self, url: str) -> Handshake:
        """Handshake without verification with ``url``'s server, to read a certificate a verified handshake rejected.

        Connects directly (not through the proxy), with the transport's resolver, socket
        options and network policy. The result is the caller's; no trace sees it. Its certificate is ``None``
        when even this handshake fails.
        """
        host, port = _host_and_port(url)
        for address in self._addresses(host):
            try:
                with self._connect(address, port) as raw:
                    server_hostname = None if is_ip_literal(host) else host
                    with _unverified_context().wrap_socket(raw, server_hostname=server_hostname) as tls:
                        return Handshake(tls.getpeercert(binary_form=True), tls.version(), verified=False)
            except OSError:  # ssl.SSLError included
                continue
        return Handshake(None, None, verified=False)

    def answers_http2_preface(self, url: str) -> bool:
        """Whether ``url``'s server (plain HTTP) answers the HTTP/2 connection preface with a SETTINGS frame.

        Asked after an empty reply, to tell a server that speaks only HTTP/2 (with prior
        knowledge) from one that dropped the request. Connects directly, like
        ``read_unverified_handshake``.
        """
        host, port = _host_and_port(url)
        for address in self._addresses(host):
            try:
                with self._connect(address, port) as sock:
                    sock.sendall(HTTP2_PREFACE)
                    head = b""
                    while len(head) < FRAME_HEADER_BYTES and (chunk := sock.recv(FRAME_HEADER_BYTES - len(head))):
                        head += chunk
                    return len(head) == FRAME_HEADER_BYTES and head[3] == SETTINGS_FRAME
            except OSError:
                continue
        return False

    def _connect(self, address: str, port: int) -> socket.socket:
        """A socket connected to ``address`` directly, as the pools' connections would be (network policy included)."""
        return connect_socket(
            address, port, network_policy=self.network_policy, socket_options=self.socket_options, timeout=self.timeout
        )

    def _addresses(self, host: str) -> list[str]:
        """The addresses to try for ``host`` (an IP literal is its own); none when it does not resolve."""
        if is_ip_literal(host):
            return [host.strip("[]")]
        try:
            return self.resolver.resolve(host)
        except OSError:
            return []

    def close(self) -> None:
        """Close every pooled connection."""
        self.adapter.close()
        for adapter in self._client_cert_adapters.values():
            adapter.close()
        self._client_cert_adapters.clear()


def content_length_problem(value: str | None) -> str | None:
    """What is wrong with a response's ``Content-Length`` (duplicates arrive joined by commas), or ``None``.

    urllib3 reads a body of unknown length for a negative or non-numeric value; here such a
    value, or copies that disagree, are a protocol error. Equal copies (``5, 5``) are one value
    (RFC 9110, section 8.6).
    """
    if value is None:
        return None
    lengths = {item.strip(" \t") for item in value.split(",")}
    if not all(_CONTENT_LENGTH.fullmatch(length) for length in lengths):
        return f"invalid Content-Length {excerpt(value)}"
    if len({int(length) for length in lengths}) > 1:
        return f"conflicting Content-Length values {excerpt(value)}"
    return None


def _host_and_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


@functools.cache
def _unverified_context() -> ssl.SSLContext:
    """One context for every unverified handshake (rare: only after a rejected certificate)."""
    return build_ssl_context(False)
