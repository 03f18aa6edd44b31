"""The transport's connection and pool classes: names resolve through the run's resolver, phases go to the trace.

Every socket is connected by ``connect_socket``, which first asks the run's ``NetworkPolicy``
whether the resolved address may be connected to (``crawl.deny_networks``).

Each connection writes into the active ``FetchTrace`` (see ``healthcrawl.fetching.trace``)
the phase it is in, how long DNS, connect and the TLS handshake took, and the ``Handshake``
(peer certificate, TLS version, verified) of the HTTPS connection a request goes over.
"""

from __future__ import annotations

import queue
import socket
import time
from socket import timeout as SocketTimeout

from urllib3.connection import HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError

from healthcrawl.fetching.network_policy import NetworkPolicy
from healthcrawl.fetching.resolver import Resolver, is_ip_literal
from healthcrawl.fetching.tls_facts import note_verified_certificate
from healthcrawl.fetching.trace import FetchTrace, Handshake, active_trace
from healthcrawl.fetching.urllib3_internals import DEFAULT_TIMEOUT, SocketOpeningConnection


def connect_socket(
    address: str, port: int, *, network_policy: NetworkPolicy, socket_options, timeout, source_address=None
) -> socket.socket:
    """A TCP socket connected to an IP address, its options set first; no ``getaddrinfo`` (urllib3 asks it even for an address).

    ``timeout`` is seconds, ``None`` (blocking) or urllib3's ``DEFAULT_TIMEOUT`` (the socket's default).
    Raises ``BlockedAddress`` (an ``OSError``), before any socket exists, when ``network_policy`` denies ``address``.
    """
    network_policy.check(address)
    sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
        if timeout is not DEFAULT_TIMEOUT:
            sock.settimeout(timeout)
        if source_address:
            sock.bind(source_address)
        sock.connect((address, port))
    except BaseException:
        sock.close()
        raise
    return sock


class TracedHTTPConnection(SocketOpeningConnection):
    """An HTTP connection that resolves through ``resolver``, connects where ``network_policy`` allows and traces DNS and connect."""

    resolver: Resolver
    network_policy: NetworkPolicy

    def open_socket(self) -> socket.socket:
        trace = active_trace()
        addresses = self._resolve(trace)
        trace.phase = "connect"
        started = time.perf_counter()
        last_error: Exception | None = None
        try:
            for address in addresses:
                try:
                    sock = connect_socket(
                        address,
                        self.port,
                        network_policy=self.network_policy,
                        socket_options=self.socket_options,
                        timeout=self.timeout,
                        source_address=self.source_address,
                    )
                except SocketTimeout as error:
                    last_error = ConnectTimeoutError(
                        self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
                    )
                    last_error.__cause__ = error
                    continue
                except OSError as error:
                    last_error = NewConnectionError(self, f"Failed to establish a new connection: {error}")
                    last_error.__cause__ = error
                    continue
                trace.phase = "request"
                return sock
            assert last_error is not None
            raise last_error
        finally:
            trace.add("connect", started)

    def _resolve(self, trace: FetchTrace) -> list[str]:
        host = self.dns_host
        if is_ip_literal(host):
            return [host.strip("[]")]
        trace.phase = "dns"
        started = time.perf_counter()
        try:
            addresses = self.resolver.resolve(host)
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        finally:
            trace.add("dns", started)
        return addresses


class TracedHTTPSConnection(TracedHTTPConnection, HTTPSConnection):
    """An HTTPS connection that also traces the handshake and, on every request it carries, its ``Handshake``."""

    handshake: Handshake | None = None

    def connect(self) -> None:
        trace = active_trace()
        trace.handshake = self.handshake = None
        self._tcp_connected_at: float | None = None
        try:
            super().connect()
        finally:
            if self._tcp_connected_at is not None:
                trace.add("tls", self._tcp_connected_at)
        der = self.sock.getpeercert(binary_form=True)
        if self.is_verified and der:
            note_verified_certificate(der, self.sock.getpeercert)
        trace.handshake = self.handshake = Handshake(der, self.sock.version(), bool(self.is_verified))
        trace.phase = "request"

    def open_socket(self) -> socket.socket:
        sock = super().open_socket()
        active_trace().phase = "tls"
        self._tcp_connected_at = time.perf_counter()
        return sock

    def request(self, *args, **kwargs) -> None:
        """Send a request; a kept-alive connection puts the handshake that opened it into this fetch's trace."""
        if self.handshake is not None:
            active_trace().handshake = self.handshake
        super().request(*args, **kwargs)


class _ConnectionSlots:
    """A pool's idle connections: what urllib3 keeps in a LifoQueue, without the queue's cost.

    urllib3 fills a new pool's queue with ``maxsize`` placeholders and drains them all
    when the pool is evicted; a crawl creates and evicts a pool for nearly every target,
    and the (gevent-patched) locks made each put and get costly. Only greenlets of one
    thread touch a pool and nothing here yields, so a list does. Placeholders are not
    stored; ``get`` on an empty list raises ``queue.Empty``, after which urllib3 opens a
    new connection (pools never block); a connection beyond ``maxsize`` is closed.
    """

    def __init__(self, maxsize: int):
        self.maxsize = maxsize
        self._idle: list = []

    def put(self, connection, block: bool = True, timeout: float | None = None) -> None:
        if connection is None:
            return
        if len(self._idle) >= self.maxsize:
            connection.close()
            return
        self._idle.append(connection)

    def get(self, block: bool = True, timeout: float | None = None):
        if not self._idle:
            raise queue.Empty
        return self._idle.pop()

    def qsize(self) -> int:
        return len(self._idle)


class _SlottedPool:
    """Pool mixin: idle connections in ``_ConnectionSlots``, and no placeholder-filling when a pool is built.

    urllib3's ``__init__`` puts ``maxsize`` placeholders into a new pool's queue, one call each:
    with ``maxsize`` the crawl's concurrency (10,000) that loop cost more than the request
    itself, for every new host. The pool is built with a size of 1 and its slots then get the
    real bound.
    """

    QueueCls = _ConnectionSlots

    def __init__(self, host: str, port: int | None = None, *args, maxsize: int = 1, **kwargs):
        super().__init__(host, port, *args, maxsize=1, **kwargs)
        self.pool.maxsize = maxsize


def traced_pool_classes(resolver: Resolver, network_policy: NetworkPolicy) -> dict[str, type[HTTPConnectionPool]]:
    """Pool classes by scheme whose connections resolve through ``resolver``, connect where ``network_policy``
    allows and fill the active trace."""
    attributes = {"resolver": resolver, "network_policy": network_policy}
    http_connection = type("HTTPConnection", (TracedHTTPConnection,), attributes)
    https_connection = type("HTTPSConnection", (TracedHTTPSConnection,), attributes)
    return {
        "http": type("HTTPConnectionPool", (_SlottedPool, HTTPConnectionPool), {"ConnectionCls": http_connection}),
        "https": type("HTTPSConnectionPool", (_SlottedPool, HTTPSConnectionPool), {"ConnectionCls": https_connection}),
    }
