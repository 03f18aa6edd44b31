"""A forward HTTP proxy on loopback (CONNECT tunnels and absolute-form GETs), for proxied-crawl tests."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from healthcrawl.testing.servers import BackgroundServer, _listening_socket, _require_loopback, copy_both_ways

MAX_HEAD = 65536


class ForwardProxy(BackgroundServer):
    """Relays to loopback destinations only; ``requests`` counts the requests it relayed.

    ``CONNECT host:port`` opens a tunnel (for HTTPS); ``GET http://host:port/path`` is
    forwarded on a fresh upstream connection with ``Connection: close``, and the client's
    connection stays open for its next request (so the client is the side that closes).
    """

    def __init__(self) -> None:
        self.requests = 0
        super().__init__(_listening_socket("127.0.0.1"))

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``, the value for ``crawl.proxy``."""
        return f"http://127.0.0.1:{self.port}"

    def _handle(self, client: socket.socket, address: tuple[str, int]) -> None:
        while (head := _read_head(client)) is not None:
            request_line, _, rest = head.partition(b"\r\n")
            try:
                method, target, version = request_line.decode("latin-1").split()
            except ValueError:
                return
            self.requests += 1
            if method == "CONNECT":
                host, _, port = target.rpartition(":")
                upstream = self._connect(host, int(port))
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                with upstream:
                    copy_both_ways(client, upstream)
                return
            self._forward(client, method, target, version, rest)

    def _forward(self, client: socket.socket, method: str, target: str, version: str, header_lines: bytes) -> None:
        """Relay one absolute-form request; the client connection stays open for the next one."""
        parts = urlsplit(target)
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        headers = b"\r\n".join(
            line
            for line in header_lines.split(b"\r\n")
            if line and not line.lower().startswith((b"connection:", b"proxy-"))
        )
        with self._connect(parts.hostname, parts.port or 80) as upstream:
            upstream.sendall(f"{method} {path} {version}\r\n".encode() + headers + b"\r\nConnection: close\r\n\r\n")
            while chunk := upstream.recv(65536):
                client.sendall(chunk)

    @staticmethod
    def _connect(host: str, port: int) -> socket.socket:
        _require_loopback(host)
        return socket.create_connection((host, port), timeout=30)


def _read_head(sock: socket.socket) -> bytes | None:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk or len(data) > MAX_HEAD:
            return None
        data += chunk
    return data.split(b"\r\n\r\n", 1)[0]
