"""A TCP relay on loopback that a test can cut and restore, to take a database away mid-crawl."""

from __future__ import annotations

import socket

from healthcrawl.testing.servers import BackgroundServer, _listening_socket, _require_loopback, copy_both_ways


class TCPRelay(BackgroundServer):
    """Relays every connection to ``upstream`` (a loopback ``(host, port)``) until ``cut()``.

    ``cut()`` resets every relayed connection and, until ``restore()``, resets new ones as
    soon as they are accepted: to the client it looks like the server went away.
    ``connections`` counts the connections accepted.
    """

    def __init__(self, upstream: tuple[str, int]) -> None:
        _require_loopback(upstream[0])
        self.upstream = upstream
        self.is_cut = False
        self.connections = 0
        self._open: set[socket.socket] = set()
        super().__init__(_listening_socket("127.0.0.1"))

    def cut(self) -> None:
        """Drop every relayed connection and refuse new ones."""
        self.is_cut = True
        for sock in list(self._open):
            _reset(sock)

    def restore(self) -> None:
        """Relay new connections again."""
        self.is_cut = False

    def _handle(self, client: socket.socket, address: tuple[str, int]) -> None:
        self.connections += 1
        if self.is_cut:
            _reset(client)
            return
        upstream = socket.create_connection(self.upstream, timeout=30)
        self._open.update((client, upstream))
        try:
            copy_both_ways(client, upstream)
        finally:
            self._open.difference_update((client, upstream))
            upstream.close()


def _reset(sock: socket.socket) -> None:
    """Close with RST, so the peer's next read or write fails at once."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
