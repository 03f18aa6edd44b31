"""Politeness per host: at most N targets in flight to one host, and a minimum gap between their starts."""

from __future__ import annotations

import contextlib
import time
from typing import Iterator

import gevent
import gevent.lock

PRUNE_EVERY = 10_000
"""Start times remembered before the ones already in the past are forgotten (bounds memory)."""


class HostLimiter:
    """Gates each target on its host: ``concurrency`` targets at once (None: no limit), ``delay`` seconds apart.

    Only the hosts with a target waiting or in flight hold a semaphore, and start times
    in the past are pruned, so a list of a million distinct hosts costs no memory here.
    """

    def __init__(self, concurrency: int | None, delay: float):
        self.concurrency = concurrency
        self.delay = delay
        self._slots: dict[str, list] = {}  # host -> [semaphore, users]
        self._next_start: dict[str, float] = {}  # host -> when its next booked turn may start
        self._started: dict[str, float] = {}  # host -> when its latest turn actually started
        self._since_prune = 0

    @property
    def active(self) -> bool:
        return self.concurrency is not None or self.delay > 0

    @contextlib.contextmanager
    def slot(self, host: str) -> Iterator[None]:
        """Wait for a turn at ``host`` and hold it for the ``with`` block."""
        entry = None
        if self.concurrency is not None:
            entry = self._slots.get(host)
            if entry is None:
                entry = self._slots[host] = [gevent.lock.BoundedSemaphore(self.concurrency), 0]
            entry[1] += 1
        try:
            if entry is not None:
                entry[0].acquire()
            try:
                self.wait_for_turn(host)
                yield
            finally:
                if entry is not None:
                    entry[0].release()
        finally:
            if entry is not None:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._slots[host]

    def wait_for_turn(self, host: str) -> None:
        """Wait until ``host`` may be started again (``delay`` after its latest actual start); a no-op without a delay.

        Turns are booked in order (``_next_start``); a turn that began late (the event loop was
        busy) moves the next ones, so no two starts are ever closer than ``delay``.
        """
        if self.delay <= 0:
            return
        now = time.monotonic()
        start = max(now, self._next_start.get(host, now))
        self._next_start[host] = start + self.delay
        self._since_prune += 1
        if self._since_prune >= PRUNE_EVERY:
            self._prune(now)
        while True:
            if host in self._started:  # the turn before may have begun late: keep the gap from its actual start
                start = max(start, self._started[host] + self.delay)
            if start <= now:
                break
            gevent.sleep(start - now)
            now = time.monotonic()
        self._started[host] = now

    def _prune(self, now: float) -> None:
        self._since_prune = 0
        self._next_start = {host: when for host, when in self._next_start.items() if when > now}
        self._started = {host: when for host, when in self._started.items() if when + self.delay > now}
