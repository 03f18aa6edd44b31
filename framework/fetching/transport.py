"""The HTTP transport: a requests adapter whose sockets linger 0 and whose connections time each phase.

``LingerAdapter`` sets ``SO_LINGER(1, 0)`` on every socket (direct, TLS and proxied), so
closing a finished connection sends RST and leaves no TIME_WAIT entry behind. Its
connection classes resolve names through the run's resolver and report the phase
they are in, how long each phase took and the peer certificate to the
``PhaseRecorder`` of the current greenlet.
"""

from __future__ import annotations

import os
import queue
import socket
import ssl
import struct
import time
from socket import timeout as SocketTimeout
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import gevent
import requests
import urllib3
from requests.adapters import HTTPAdapter
from requests.cookies import RequestsCookieJar
from requests.structures import CaseInsensitiveDict
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool, port_by_scheme

from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util.ssl_ import create_urllib3_context
from urllib3.util.timeout import _DEFAULT_TIMEOUT

from healthcrawl.fetching.resolver import Resolver, is_ip_literal

LINGER_ZERO = (socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
"""Close with RST instead of FIN: no TIME_WAIT entry is left on either side."""


@dataclass
class PhaseRecorder:
    """What the connections of one fetch did: the current phase, phase durations, the certificate."""

    phase: str = "idle"
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    peer_cert_der: bytes | None = None
    tls_version: str | None = None
    tls_verified: bool = False

    def add(self, phase: str, started: float) -> None:
        """Add the time since ``started`` (a ``time.perf_counter()`` value) to a phase."""
        elapsed = (time.perf_counter() - started) * 1000.0
        name = f"{phase}_ms"
        setattr(self, name, (getattr(self, name) or 0.0) + elapsed)


_recorders: dict = {}
"""The recorder of each greenlet that is fetching (a dict: gevent.local costs a weakref per greenlet)."""


def start_recording() -> PhaseRecorder:
    """Give the current greenlet a fresh recorder and return it; call ``stop_recording`` when done."""
    _recorders[gevent.getcurrent()] = recorder = PhaseRecorder()
    return recorder


def stop_recording() -> None:
    """Forget the current greenlet's recorder."""
    _recorders.pop(gevent.getcurrent(), None)


def current_recorder() -> PhaseRecorder:
    """The current greenlet's recorder (a throwaway one when nothing is recording)."""
    return _recorders.get(gevent.getcurrent()) or PhaseRecorder()


class TimedHTTPConnection(HTTPConnection):
    """An HTTP connection that resolves through ``resolver`` and times DNS and connect."""

    resolver: Resolver

    def _new_conn(self) -> socket.socket:
        recorder = current_recorder()
        addresses = self._resolve(recorder)
        recorder.phase = "connect"
        started = time.perf_counter()
        last_error: Exception | None = None
        try:
            for address in addresses:
                try:
                    sock = self._connect_to(address)
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
                recorder.phase = "request"
                return sock
            assert last_error is not None
            raise last_error
        finally:
            recorder.add("connect", started)

    def _connect_to(self, address: str) -> socket.socket:
        """Connect to an IP address: no ``getaddrinfo`` (urllib3 asks it even for an address)."""
        sock = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
        try:
            for option in self.socket_options or ():
                sock.setsockopt(*option)
            if self.timeout is not _DEFAULT_TIMEOUT:
                sock.settimeout(self.timeout)
            if self.source_address:
                sock.bind(self.source_address)
            sock.connect((address, self.port))
        except BaseException:
            sock.close()
            raise
        return sock

    def _resolve(self, recorder: PhaseRecorder) -> list[str]:
        host = self._dns_host
        if is_ip_literal(host):
            return [host.strip("[]")]
        recorder.phase = "dns"
        started = time.perf_counter()
        try:
            addresses = self.resolver.resolve(host)
        except socket.gaierror as error:
            raise NameResolutionError(self.host, self, error) from error
        finally:
            recorder.add("dns", started)
        return addresses


class TimedHTTPSConnection(TimedHTTPConnection, HTTPSConnection):
    """An HTTPS connection that also times the handshake and keeps the peer certificate."""

    def connect(self) -> None:
        recorder = current_recorder()
        self._tcp_connected_at: float | None = None
        try:
            super().connect()
        finally:
            if self._tcp_connected_at is not None:
                recorder.add("tls", self._tcp_connected_at)
        recorder.peer_cert_der = self.sock.getpeercert(binary_form=True)
        recorder.tls_version = self.sock.version()
        recorder.tls_verified = bool(self.is_verified)
        recorder.phase = "request"

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()
        current_recorder().phase = "tls"
        self._tcp_connected_at = time.perf_counter()
        return sock


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


def _pool_classes(resolver: Resolver) -> dict[str, type]:
    """Pool classes whose connections use ``resolver``; one set per adapter."""
    http_connection = type("HTTPConnection", (TimedHTTPConnection,), {"resolver": resolver})
    https_connection = type("HTTPSConnection", (TimedHTTPSConnection,), {"resolver": resolver})
    return {
        "http": type(
            "HTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_connection, "QueueCls": _ConnectionSlots}
        ),
        "https": type(
            "HTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_connection, "QueueCls": _ConnectionSlots}
        ),
    }


class LingerAdapter(HTTPAdapter):
    """A requests adapter with one SSL context and the given socket options on every pool, proxied ones included.

    Certificate verification is configured once, on the shared SSL context: loading a CA
    bundle per connection (what requests and urllib3 do by default) costs tens of
    milliseconds of CPU for every new HTTPS connection.
    """

    def __init__(self, resolver: Resolver, linger: bool = True, verify: bool | str = True, **kwargs):
        self._socket_options = list(HTTPConnection.default_socket_options)
        if linger:
            self._socket_options.append(LINGER_ZERO)
        self._pool_classes = _pool_classes(resolver)
        self._ssl_context = build_ssl_context(verify)
        self._pools: OrderedDict[tuple[str, str, int], HTTPConnectionPool] = OrderedDict()
        self._pools_kept = kwargs.get("pool_connections", 10)
        super().__init__(**kwargs)

    def get_connection_with_tls_context(self, request, verify, proxies=None, cert=None):
        """The pool for a direct request, from a plain LRU dict keyed by scheme, host and port.

        requests asks the PoolManager, which builds and normalises a 15-field key per
        request; a crawl meets a new host on almost every request, so that was a large
        share of the per-target CPU. Proxied requests and odd URLs take requests' path.
        """
        parts = urlsplit(request.url)
        scheme, host = parts.scheme.lower(), parts.hostname
        if proxies or cert is not None or scheme not in self._pool_classes or not host:
            return super().get_connection_with_tls_context(request, verify, proxies, cert)
        key = (scheme, host, parts.port or port_by_scheme[scheme])
        pool = self._pools.get(key)
        if pool is not None:
            self._pools.move_to_end(key)
            return pool
        self._pools[key] = pool = self.poolmanager._new_pool(*key)
        if len(self._pools) > self._pools_kept:
            self._pools.popitem(last=False)[1].close()
        return pool

    def close(self) -> None:
        """Close every pool: this adapter's own and the PoolManager's."""
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        super().close()

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        pool_kwargs["socket_options"] = self._socket_options
        pool_kwargs["ssl_context"] = self._ssl_context
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = self._pool_classes

    def proxy_manager_for(self, proxy, **proxy_kwargs):
        if proxy not in self.proxy_manager:
            proxy_kwargs["socket_options"] = self._socket_options
            proxy_kwargs["ssl_context"] = self._ssl_context
            manager = super().proxy_manager_for(proxy, **proxy_kwargs)
            if not proxy.lower().startswith("socks"):
                manager.pool_classes_by_scheme = self._pool_classes
            return manager
        return super().proxy_manager_for(proxy, **proxy_kwargs)

    def build_response(self, req, resp) -> requests.Response:
        """requests' response, minus what a health check never uses: cookie jar, encoding guess."""
        response = requests.Response()
        response.status_code = resp.status
        response.headers = CaseInsensitiveDict(resp.headers)
        response.raw = resp
        response.reason = resp.reason
        response.url = req.url
        response.request = req
        response.connection = self
        return response

    def cert_verify(self, conn, url, verify, cert):
        """Keep the pool's settings in line with the shared context; never name a CA file per pool."""
        conn.cert_reqs = "CERT_NONE" if verify is False else "CERT_REQUIRED"
        conn.ca_certs = None
        conn.ca_cert_dir = None


def build_ssl_context(verify: bool | str) -> ssl.SSLContext:
    """The client SSL context: ``False`` verifies nothing, ``True`` trusts certifi's CAs, a path trusts that bundle."""
    if verify is False:
        return create_urllib3_context(cert_reqs=ssl.CERT_NONE)
    context = create_urllib3_context(cert_reqs=ssl.CERT_REQUIRED)
    location = certifi.where() if verify is True else verify
    if os.path.isdir(location):
        context.load_verify_locations(capath=location)
    else:
        context.load_verify_locations(cafile=location)
    return context


class Transport:
    """Sends one GET per call through a ``LingerAdapter``, skipping what ``requests.Session`` does per request.

    A session merges settings, looks up proxies and netrc in the environment, runs hooks and
    keeps a cookie jar on every request; a crawl needs none of it. The base headers, the
    proxy map and the verify flag are settled once here, and each request is a
    ``PreparedRequest`` handed straight to the adapter.
    """

    def __init__(
        self, resolver: Resolver, *, linger: bool, verify: bool | str, user_agent: str, proxy: str | None, pool_size: int
    ):
        self.adapter = LingerAdapter(
            resolver, linger=linger, verify=verify, pool_connections=pool_size, pool_maxsize=pool_size, max_retries=0
        )
        # Ask for identity or gzip only: what we can bound while decoding.
        self.headers = {"User-Agent": user_agent, "Accept-Encoding": "gzip, deflate", "Accept": "*/*"}
        self.proxies = {"http": proxy, "https": proxy} if proxy else {}
        # The adapter's SSL context holds the CA bundle; the adapter only needs to know whether to verify.
        self.verify = verify is not False
        if verify is False:
            # The config asked for it; one warning per request would drown the output.
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)

    def get(
        self,
        url: str,
        *,
        headers: dict[str, str],
        auth: tuple[str, str] | None,
        timeout,
        normalised: bool,
        cookies: RequestsCookieJar | None = None,
    ) -> requests.Response:
        """Send ``GET url`` and return the streamed response.

        ``normalised`` URLs (what ``parse_target`` made) skip requests' URL preparation;
        ``cookies`` are those an earlier hop of the same redirect chain set.
        """
        request = requests.PreparedRequest()
        request.method = "GET"
        if normalised:
            request.url = url
        else:
            request.prepare_url(url, None)
        request.headers = CaseInsensitiveDict(self.headers)
        request.headers.update(headers)
        if auth is not None:
            request.prepare_auth(auth)
        if cookies:
            request.prepare_cookies(cookies)
        return self.adapter.send(request, stream=True, timeout=timeout, verify=self.verify, proxies=self.proxies)

    def close(self) -> None:
        """Close every pooled connection."""
        self.adapter.close()
