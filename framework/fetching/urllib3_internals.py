"""Every private name of urllib3 that the transport relies on, and the only module that touches them.

urllib3 promises nothing about names that start with an underscore, so pyproject.toml pins
it below the next minor release (``URLLIB3_PIN``) and tests/fetching/test_urllib3_internals.py
checks that each name in ``PRIVATE_NAMES`` still exists. Before raising the pin, read each
use listed there against the new release. requests is used through public names only.
"""

from __future__ import annotations

import importlib
import socket
from dataclasses import dataclass

from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool
from urllib3.poolmanager import PoolManager
from urllib3.util.timeout import _DEFAULT_TIMEOUT

URLLIB3_PIN = "urllib3>=2.7,<2.9"
"""The urllib3 requirement in pyproject.toml; keep the two in step."""

DEFAULT_TIMEOUT = _DEFAULT_TIMEOUT
"""urllib3's "no timeout given" sentinel: a connection's ``timeout`` when the caller set none."""


class SocketOpeningConnection(HTTPConnection):
    """An ``HTTPConnection`` whose socket-opening step is the public ``open_socket``.

    urllib3's ``connect()`` (plain and TLS) opens the TCP socket by calling the private
    ``_new_conn``; subclasses define ``open_socket`` instead, and read the host name to
    resolve (as given, a trailing dot kept) from ``dns_host``.
    """

    def _new_conn(self) -> socket.socket:
        return self.open_socket()

    def open_socket(self) -> socket.socket:
        """Open and return the connected TCP socket (to the proxy, when there is one)."""
        raise NotImplementedError

    @property
    def dns_host(self) -> str:
        """The host name to resolve, as given (``host`` strips a trailing dot)."""
        return self._dns_host


def new_pool(manager: PoolManager, scheme: str, host: str, port: int) -> HTTPConnectionPool:
    """A pool built as ``manager`` builds its own (its pool classes and keyword arguments), but not kept by it."""
    return manager._new_pool(scheme, host, port)


@dataclass(frozen=True)
class PrivateName:
    """One private name the transport uses: where it lives and what for."""

    owner: str
    """Dotted path of the module or class that has it."""
    name: str
    use: str
    on_instance: bool = False
    """Set on each instance (checked on ``owner("localhost")``) rather than on the class."""

    def exists(self) -> bool:
        """Whether the installed urllib3 still has it."""
        module_name, _, class_name = self.owner.rpartition(".")
        try:
            owner = getattr(importlib.import_module(module_name), class_name)
        except (ImportError, AttributeError):
            try:
                owner = importlib.import_module(self.owner)
            except ImportError:
                return False
        if self.on_instance:
            owner = owner("localhost")
        return hasattr(owner, self.name)


PRIVATE_NAMES = (
    PrivateName("urllib3.util.timeout", "_DEFAULT_TIMEOUT", "DEFAULT_TIMEOUT: connections leave the socket timeout alone"),
    PrivateName("urllib3.connection.HTTPConnection", "_new_conn", "SocketOpeningConnection: connect() opens the socket"),
    PrivateName("urllib3.connection.HTTPConnection", "_dns_host", "SocketOpeningConnection.dns_host", on_instance=True),
    PrivateName("urllib3.poolmanager.PoolManager", "_new_pool", "new_pool: the host pool cache builds pools with it"),
)
"""What the test checks; a missing one means urllib3 changed under the pin."""
