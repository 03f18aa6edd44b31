"""The trace of one fetch: what the connections that carried its requests did, and when.

A ``FetchTrace`` is made by the fetch, handed to ``Transport.get`` with each request (one
per redirect hop) and filled by the connection classes: the phase they are in, the time
spent resolving, connecting and in the TLS handshake, and the ``Handshake`` (certificate,
TLS version, verified) of the connection the latest request went over. The transport
adds when each response head arrived. The fetch reads its timings and TLS facts from it
when it is done; nothing else keeps it.

How the trace reaches the connection (the bridge): httpcore hands a request's ``trace``
extension down to the connection it uses, but requests' adapter and urllib3's pools
have no per-request slot between ``adapter.send`` and the connection they check out, so
``Transport.get`` sets ``_ACTIVE_TRACE`` (a ``contextvars.ContextVar``) for the duration
of that one send and resets it before returning (``sending_with``). The connection code
runs synchronously inside the send, in the greenlet that called it, and reads the
variable there (``active_trace``). This is sound under gevent because greenlet (0.4.17
and later) gives every greenlet its own ``contextvars`` context, swapped on each switch,
and a new greenlet starts with an empty one: a fetch never sees another greenlet's
trace, and after the send nothing refers to it (tests/fetching/test_trace.py checks both
with concurrent fetches on loopback servers). A dict keyed by greenlet would need the
same care by hand and leak an entry whenever its cleanup was skipped.
"""

from __future__ import annotations

import contextlib
import time
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Iterator

from healthcrawl.records import Timings


@dataclass(frozen=True)
class Handshake:
    """The TLS facts of one connection: the peer's certificate (DER), the TLS version, whether it was verified."""

    peer_cert_der: bytes | None
    version: str | None
    verified: bool


@dataclass
class FetchTrace:
    """What the connections of one fetch did: the current phase, phase durations, the latest handshake.

    ``phase`` is ``idle``, ``dns``, ``connect``, ``tls`` or ``request``; the ``*_ms`` fields add
    up every connection the fetch opened. ``handshake`` is that of the HTTPS connection the
    latest request went over (a reused connection reports the handshake that opened it); a
    new HTTPS connection clears it first, so a failed handshake leaves none. ``ttfb_ms`` is
    when the latest response head arrived, counted from ``started`` (when the trace was made).
    """

    started: float = field(default_factory=time.perf_counter)
    phase: str = "idle"
    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    handshake: Handshake | None = None

    def add(self, phase: str, since: float) -> None:
        """Add the time since ``since`` (a ``time.perf_counter()`` value) to ``phase``'s duration."""
        elapsed = (time.perf_counter() - since) * 1000.0
        name = f"{phase}_ms"
        setattr(self, name, (getattr(self, name) or 0.0) + elapsed)

    def response_head_arrived(self) -> None:
        """Note that a response head just arrived: it is the time to first byte so far."""
        self.ttfb_ms = (time.perf_counter() - self.started) * 1000.0

    def timings(self) -> Timings:
        """The phase timings, rounded to microseconds; ``total_ms`` runs until now."""
        return Timings(
            dns_ms=_round(self.dns_ms),
            connect_ms=_round(self.connect_ms),
            tls_ms=_round(self.tls_ms),
            ttfb_ms=_round(self.ttfb_ms),
            total_ms=_round((time.perf_counter() - self.started) * 1000.0),
        )


_ACTIVE_TRACE: ContextVar[FetchTrace | None] = ContextVar("healthcrawl_fetch_trace", default=None)
"""The trace of the request being sent in the current greenlet; set only during ``Transport.get``."""


@contextlib.contextmanager
def sending_with(trace: FetchTrace) -> Iterator[None]:
    """Make ``trace`` the active trace of the current greenlet for the ``with`` block (one send)."""
    token = _ACTIVE_TRACE.set(trace)
    try:
        yield
    finally:
        _ACTIVE_TRACE.reset(token)


def active_trace() -> FetchTrace:
    """The trace of the request being sent in this greenlet; a throwaway one outside a send."""
    return _ACTIVE_TRACE.get() or FetchTrace()


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
