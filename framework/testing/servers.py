"""Loopback servers with one behaviour each, for testing a health-check crawler against real sockets.

Every server runs in greenlets of the current process, binds a loopback address only and is a
context manager (``with HTTPTestServer() as srv: ...``) as well as having ``start()``/``stop()``.
``gevent.monkey.patch_all()`` must have run before this module is imported.
"""

from __future__ import annotations

import base64
import functools
import gzip
import http.client
import ipaddress
import itertools
import socket
import struct
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import BinaryIO, Iterable, Mapping, Self
from urllib.parse import urlsplit

import gevent
import gevent.monkey
from gevent.baseserver import BaseServer
from gevent.pool import Pool
from gevent.server import StreamServer

from healthcrawl.testing.certs import CertAuthority

if not gevent.monkey.is_module_patched("socket"):
    raise RuntimeError("run gevent.monkey.patch_all() before importing healthcrawl.testing.servers")

IDLE_TIMEOUT = 30.0
"""Seconds a server waits on a silent or non-reading client before dropping the connection."""
HANG_SECONDS = 600.0
"""How long RawTCPServer("hang") holds a connection when stop() is not called first."""
CHUNK_SIZE = 64 * 1024
GZIP_MEMBER_SIZE = 1024 * 1024
"""Zeros per gzip member of a gzip bomb; one member compresses to about 1 KiB."""
MAX_DRIP_BYTES = 120
MAX_REQUEST_LINE = 65536
MAX_REQUEST_BODY = 1024 * 1024
RAW_BEHAVIOURS = ("hang", "reset", "garbage", "close", "backlog_full", "h2_only")
GARBAGE_RESPONSE = b"SSH-2.0-OpenSSH_9.6\r\nthis is not http\r\n"
H2_SETTINGS_AND_GOAWAY = (
    b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"  # an empty SETTINGS frame
    b"\x00\x00\x08\x07\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01"  # GOAWAY, PROTOCOL_ERROR
)
"""What an HTTP/2-only server sends a client that speaks HTTP/1.1 to it, before it closes."""
PENDING_BACKLOG_FILLERS = 2
RECORDED_REQUESTS = 1000
"""How many of the latest requests ``HTTPTestServer.requests`` keeps."""

_X_CHUNK = b"x" * CHUNK_SIZE


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on the loopback ``host`` that nothing listens on (connecting to it is refused)."""
    _require_loopback(host)
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class BackgroundServer:
    """A gevent server running in the current process, with ``start()``/``stop()`` and ``with`` support.

    Subclasses pass a bound socket and implement ``_handle``. Every handler greenlet lives in a pool,
    so ``stop()`` closes the socket and kills the handlers still running instead of waiting on them.
    """

    server_class: type[BaseServer] = StreamServer

    def __init__(self, listener: socket.socket) -> None:
        self._handlers = Pool()
        self._server = self.server_class(listener, self._handle, spawn=self._handlers)

    @property
    def port(self) -> int:
        """The port the server is bound to (known before ``start()``)."""
        return self._server.server_port

    @property
    def active_handlers(self) -> int:
        """Handler greenlets still running: open connections (TCP) or unanswered queries (DNS)."""
        return len(self._handlers)

    def start(self) -> Self:
        """Start serving in the background; returns self."""
        self._server.start()
        return self

    def stop(self) -> None:
        """Close the socket and kill every running handler; safe to call twice."""
        self._server.stop(timeout=0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _handle(self, *args: object) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class _Route:
    status: int = 200
    body: bytes = b"ok"
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drip_interval: float | None = None
    drip_headers: bool = False
    body_size: int | None = None
    gzip_bomb_size: int | None = None

    def body_stream(self) -> tuple[int, Iterable[bytes]]:
        """The body's length and the chunks that make it up, produced lazily."""
        if self.body_size is not None:
            return _x_stream(self.body_size)
        if self.gzip_bomb_size is not None:
            return _gzip_bomb_stream(self.gzip_bomb_size)
        return len(self.body), (self.body,)


_NOT_FOUND = _Route(status=404, body=b"not found")
_UNAUTHORISED = _Route(status=401, body=b"unauthorised", headers={"WWW-Authenticate": 'Basic realm="test"'})


@dataclass(frozen=True)
class ReceivedRequest:
    """One request an ``HTTPTestServer`` received (``headers`` lookups are case-insensitive)."""

    method: str
    path: str
    headers: http.client.HTTPMessage
    body: bytes
    keep_alive: bool


class HTTPTestServer(BackgroundServer):
    """An HTTP/1.1 (or HTTPS) keep-alive server whose answer per path is set with ``route()``.

    Unknown paths get 404 ``not found``; ``/`` answers 200 ``ok``. With ``basic_auth=(user, password)``
    every request without those credentials gets 401; with ``client_ca`` (TLS only) the handshake
    requires a client certificate issued by that CA. The server never closes an idle
    keep-alive connection before ``IDLE_TIMEOUT``, so the client is the side that closes first.
    ``bind_all_loopback=True`` listens on 0.0.0.0 so that every 127.x.y.z address reaches the
    server; connections to any non-loopback address are closed unanswered.
    """

    host = "127.0.0.1"

    def __init__(
        self,
        tls: bool = False,
        ca: CertAuthority | None = None,
        tls_kind: str = "valid",
        days_left: float | None = None,
        bind_all_loopback: bool = False,
        basic_auth: tuple[str, str] | None = None,
        client_ca: CertAuthority | None = None,
    ) -> None:
        if not tls and (ca is not None or tls_kind != "valid" or days_left is not None or client_ca is not None):
            raise ValueError("ca, tls_kind, days_left and client_ca need tls=True")
        self._owns_ca = tls and ca is None
        self.ca = CertAuthority() if self._owns_ca else ca
        """The CA that issued the server certificate (None without TLS)."""
        self._tls_context = self.ca.server_context(tls_kind, days_left) if tls else None
        if client_ca is not None:
            client_ca.trust_client_certificates(self._tls_context)
        self._authorization = None if basic_auth is None else _basic_authorization(*basic_auth)
        self.hits: Counter[str] = Counter()
        """Requests received per path (query string excluded)."""
        self.last_headers: dict[str, http.client.HTTPMessage] = {}
        """Headers of the latest request per path; lookups are case-insensitive."""
        self.connections = 0
        """TCP connections accepted so far."""
        self.requests: deque[ReceivedRequest] = deque(maxlen=RECORDED_REQUESTS)
        """The latest requests (at most ``RECORDED_REQUESTS``), oldest first, bodies included."""
        self._routes = {"/": _Route()}
        self._next_answers: dict[str, deque[_Route]] = {}
        super().__init__(_listening_socket("0.0.0.0" if bind_all_loopback else self.host))

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (``https`` with TLS)."""
        return self.url("")

    def url(self, path: str = "/", host: str | None = None) -> str:
        """The URL of ``path``; ``host`` picks another loopback address or ``localhost``."""
        scheme = "https" if self._tls_context is not None else "http"
        return f"{scheme}://{host or self.host}:{self.port}{path}"

    def route(
        self,
        path: str,
        *,
        status: int | None = None,
        body: bytes | str = b"ok",
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
        drip_interval: float | None = None,
        drip_headers: bool = False,
        body_size: int | None = None,
        gzip_bomb_size: int | None = None,
        redirect_to: str | None = None,
        times: int | None = None,
    ) -> None:
        """Set how ``path`` is answered (replacing any earlier route for it).

        With ``times=N`` only the next N requests get this answer (queued after earlier ``times``
        answers); then the path answers as its route without ``times`` says, e.g. a 503 twice, then 200.

        - ``status``: defaults to 200, or 302 with ``redirect_to`` (a path or a full URL: the Location).
        - ``headers`` are added to the response and override the defaults (Content-Type, Content-Length).
        - ``delay``: seconds to wait before sending anything.
        - ``drip_interval``: send the body (at most ``MAX_DRIP_BYTES``) one byte per interval, or with
          ``drip_headers=True`` the status line and headers one byte per interval.
        - ``body_size``: stream that many bytes of ``x`` instead of ``body``, in 64 KiB chunks.
        - ``gzip_bomb_size``: a gzip-encoded body that decompresses to that many zero bytes (about
          a thousandth of it goes over the wire).
        """
        body = body.encode() if isinstance(body, str) else body
        if body_size is not None and gzip_bomb_size is not None:
            raise ValueError("body_size and gzip_bomb_size exclude each other")
        if drip_interval is not None and not drip_headers:
            if body_size is not None or gzip_bomb_size is not None:
                raise ValueError("a dripped body is the plain body; drop body_size/gzip_bomb_size")
            if len(body) > MAX_DRIP_BYTES:
                raise ValueError(f"a dripped body is at most {MAX_DRIP_BYTES} bytes")
        headers = dict(headers or {})
        if redirect_to is not None:
            headers.setdefault("Location", redirect_to)
        if gzip_bomb_size is not None:
            headers.setdefault("Content-Encoding", "gzip")
        if status is None:
            status = 200 if redirect_to is None else 302
        if times is not None and times < 1:
            raise ValueError("times must be at least 1")
        answer = _Route(
            status=status,
            body=body,
            headers=headers,
            delay=delay,
            drip_interval=drip_interval,
            drip_headers=drip_headers,
            body_size=body_size,
            gzip_bomb_size=gzip_bomb_size,
        )
        if times is None:
            self._routes[path] = answer
        else:
            self._next_answers.setdefault(path, deque()).extend([answer] * times)

    def stop(self) -> None:
        """Stop serving; a CA the server created for itself is closed too."""
        super().stop()
        if self._owns_ca:
            self.ca.close()

    def _handle(self, sock: socket.socket, address: tuple[str, int]) -> None:
        if not ipaddress.ip_address(sock.getsockname()[0]).is_loopback:
            return
        self.connections += 1
        sock.settimeout(IDLE_TIMEOUT)
        try:
            if self._tls_context is not None:
                sock = self._tls_context.wrap_socket(sock, server_side=True)
            with sock, sock.makefile("rb") as rfile:
                self._serve_requests(sock, rfile)
        except OSError:  # the client left, stalled past IDLE_TIMEOUT or refused our certificate
            pass

    def _serve_requests(self, sock: socket.socket, rfile: BinaryIO) -> None:
        while (request := _read_request(rfile)) is not None:
            self.hits[request.path] += 1
            self.last_headers[request.path] = request.headers
            self.requests.append(request)
            authorised = self._authorization is None or request.headers.get("Authorization") == self._authorization
            self._respond(sock, request, self._answer_for(request.path) if authorised else _UNAUTHORISED)
            if not request.keep_alive:
                return

    def _answer_for(self, path: str) -> _Route:
        queued = self._next_answers.get(path)
        if queued:
            return queued.popleft()
        return self._routes.get(path, _NOT_FOUND)

    def _respond(self, sock: socket.socket, request: ReceivedRequest, route: _Route) -> None:
        gevent.sleep(route.delay)
        length, chunks = route.body_stream()
        headers = {"Content-Type": "text/plain; charset=utf-8", "Content-Length": str(length)}
        if not request.keep_alive:
            headers["Connection"] = "close"
        overridden = {name.lower() for name in route.headers}
        headers = {name: value for name, value in headers.items() if name.lower() not in overridden}
        headers.update(route.headers)
        head = _format_head(route.status, headers)
        if route.drip_interval is not None and route.drip_headers:
            _drip(sock, head, route.drip_interval)
        else:
            sock.sendall(head)
        if request.method == "HEAD":
            return
        if route.drip_interval is not None and not route.drip_headers:
            _drip(sock, route.body, route.drip_interval)
            return
        for chunk in chunks:
            sock.sendall(chunk)


class RawTCPServer(BackgroundServer):
    """A TCP server that misbehaves in one way, ``behaviour`` (one of ``RAW_BEHAVIOURS``):

    - "hang": accept and never send anything (until ``stop()`` or ``HANG_SECONDS``).
    - "reset": read the request, then reset the connection (the client gets ECONNRESET).
    - "garbage": read the request, answer with an SSH banner instead of HTTP and close.
    - "close": read the request, then close cleanly without answering.
    - "h2_only": read the request, answer as an HTTP/2-only server does (SETTINGS, GOAWAY) and close.
    - "backlog_full": never accept; ``start()`` fills the accept queue so that the next client's
      SYN is dropped and its connect times out.
    """

    def __init__(self, behaviour: str, host: str = "127.0.0.1") -> None:
        if behaviour not in RAW_BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {RAW_BEHAVIOURS}, not {behaviour!r}")
        _require_loopback(host)
        self.behaviour = behaviour
        self.host = host
        self._queue_fillers: list[socket.socket] = []
        backlog = 0 if behaviour == "backlog_full" else 128
        super().__init__(_listening_socket(host, backlog))

    def url(self, path: str = "/", scheme: str = "http") -> str:
        """A URL pointing at this server, e.g. ``https://127.0.0.1:PORT/`` for a TLS client."""
        return f"{scheme}://{self.host}:{self.port}{path}"

    def start(self) -> Self:
        """Start serving; for "backlog_full", fill the accept queue instead of accepting."""
        if self.behaviour != "backlog_full":
            return super().start()
        address = (self.host, self.port)
        # listen(0) queues exactly one connection; once it is queued, SYNs are dropped. The
        # blocking connect makes sure the queue is full before start() returns, and the pending
        # non-blocking ones keep retransmitting their SYNs into the full queue.
        self._queue_fillers.append(socket.create_connection(address, timeout=1.0))
        for _ in range(PENDING_BACKLOG_FILLERS):
            pending = socket.socket()
            pending.setblocking(False)
            pending.connect_ex(address)
            self._queue_fillers.append(pending)
        return self

    def stop(self) -> None:
        """Close the listening socket, every held connection and the queue fillers."""
        for filler in self._queue_fillers:
            filler.close()
        self._queue_fillers.clear()
        super().stop()

    def _handle(self, sock: socket.socket, address: tuple[str, int]) -> None:
        if self.behaviour == "hang":
            gevent.sleep(HANG_SECONDS)
            return
        sock.settimeout(IDLE_TIMEOUT)
        try:
            sock.recv(CHUNK_SIZE)
            if self.behaviour == "reset":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            elif self.behaviour == "garbage":
                sock.sendall(GARBAGE_RESPONSE)
            elif self.behaviour == "h2_only":
                sock.sendall(H2_SETTINGS_AND_GOAWAY)
        except OSError:
            pass
        # returning closes the socket: cleanly, or with a reset when SO_LINGER(1, 0) is set


class OverlapRecordingServer:
    """One port on each loopback address in ``hosts``: answers 200 after ``hold`` seconds and records, per
    ``Host`` header (``host:port``), when each request arrived and how many overlapped at most: what
    per-host politeness (``per_host_concurrency``, ``per_host_delay``) looks like from the server's side."""

    def __init__(self, hosts: Iterable[str] = ("127.0.0.1",), hold: float = 0.1):
        self.hosts = list(hosts)
        for host in self.hosts:
            _require_loopback(host)
        self.hold = hold
        self.port: int | None = None
        self.in_flight: Counter[str] = Counter()
        self.most_in_flight: Counter[str] = Counter()
        self.arrivals: dict[str, list[float]] = {}
        self._servers: list[StreamServer] = []

    def __enter__(self) -> Self:
        first = StreamServer((self.hosts[0], 0), self._handle)
        first.start()
        self.port = first.address[1]
        self._servers = [first]
        for host in self.hosts[1:]:
            self._servers.append(StreamServer((host, self.port), self._handle))
            self._servers[-1].start()
        return self

    def __exit__(self, *exc) -> None:
        for server in self._servers:
            server.stop()

    @property
    def netlocs(self) -> list[str]:
        """``host:port`` of each host, as requests name it in their ``Host`` header (the keys of the records)."""
        return [f"{host}:{self.port}" for host in self.hosts]

    def urls(self, per_host: int) -> list[str]:
        """``per_host`` distinct URLs on each host, the hosts interleaved."""
        return [f"http://{netloc}/?i={i}" for i in range(per_host) for netloc in self.netlocs]

    def _handle(self, sock: socket.socket, address) -> None:
        request = _read_request(sock.makefile("rb"))
        if request is None:
            return
        host = request.headers.get("host", "")
        self.arrivals.setdefault(host, []).append(time.monotonic())
        self.in_flight[host] += 1
        self.most_in_flight[host] = max(self.most_in_flight[host], self.in_flight[host])
        try:
            gevent.sleep(self.hold)
        finally:
            self.in_flight[host] -= 1
        sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
        sock.close()


def _require_loopback(host: str) -> None:
    try:
        loopback = ipaddress.IPv4Address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"test servers bind 127.0.0.0/8 addresses only, not {host!r}")


def _listening_socket(host: str, backlog: int = 128) -> socket.socket:
    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen(backlog)
    return sock


def _read_request(rfile: BinaryIO) -> ReceivedRequest | None:
    """The next request on a connection, or None when the client closed it or sent nonsense."""
    line = rfile.readline(MAX_REQUEST_LINE + 1)
    if not line.endswith(b"\n"):
        return None
    try:
        method, target, version = line.decode("latin-1").split()
        headers = http.client.parse_headers(rfile)
        body_length = int(headers.get("Content-Length", 0))
    except (ValueError, http.client.HTTPException):
        return None
    if "Transfer-Encoding" in headers or not 0 <= body_length <= MAX_REQUEST_BODY:
        return None
    body = rfile.read(body_length)
    keep_alive = version == "HTTP/1.1" and "close" not in headers.get("Connection", "").lower()
    return ReceivedRequest(method, urlsplit(target).path or "/", headers, body, keep_alive)


def _basic_authorization(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def _format_head(status: int, headers: Mapping[str, str]) -> bytes:
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{name}: {value}" for name, value in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _drip(sock: socket.socket, data: bytes, interval: float) -> None:
    for index in range(len(data)):
        gevent.sleep(interval)
        sock.sendall(data[index : index + 1])


def _x_stream(size: int) -> tuple[int, Iterable[bytes]]:
    full_chunks, rest = divmod(size, CHUNK_SIZE)
    return size, itertools.chain(itertools.repeat(_X_CHUNK, full_chunks), (_X_CHUNK[:rest],) if rest else ())


def _gzip_bomb_stream(size: int) -> tuple[int, Iterable[bytes]]:
    """Concatenated gzip members (a valid gzip stream) that decompress to ``size`` zero bytes."""
    full_members, rest = divmod(size, GZIP_MEMBER_SIZE)
    member = _gzip_of_zeros(GZIP_MEMBER_SIZE)
    tail = (_gzip_of_zeros(rest),) if rest or not full_members else ()
    length = full_members * len(member) + sum(map(len, tail))
    return length, itertools.chain(itertools.repeat(member, full_members), tail)


@functools.lru_cache(maxsize=16)
def _gzip_of_zeros(size: int) -> bytes:
    return gzip.compress(bytes(size), compresslevel=9, mtime=0)


def copy_both_ways(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes between two connected sockets, both ways, until either side closes or fails."""

    def pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    gevent.joinall([gevent.spawn(pump, a, b), gevent.spawn(pump, b, a)])
