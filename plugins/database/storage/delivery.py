"""Getting batches into the database through outages: retry with backoff, spool to disk meanwhile.

While the database answers, each batch is one insert. When a write fails, the batch
goes to the on-disk spool and so does every batch after it; the spool is written back
(oldest first) as soon as a retry succeeds. Retries back off from ``BACKOFF_START`` to
``BACKOFF_MAX`` seconds. When the spool is full, ``write`` waits for the database
(back-pressure on the crawl). After ``retry_for`` seconds without the database,
``DatabaseLost`` is raised; the spool then keeps every later batch and stays on disk
for ``healthcrawl replay``. A spool that cannot be written (a full disk) ends the run the
same way, with a line naming the spool and the replay command.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone

import gevent
from sqlalchemy.exc import SQLAlchemyError

from healthcrawl.plugins.database.storage.engines import one_line
from healthcrawl.plugins.database.storage.spool import RunEnd, Spool, SpoolWriteError
from healthcrawl.plugins.database.storage.store import Batch, ResultStore

log = logging.getLogger("healthcrawl")

BACKOFF_START = 0.5
BACKOFF_MAX = 30.0
WRITE_TIMEOUT = 60.0
"""Seconds one write may take before the database is taken to be gone."""


class DatabaseLost(Exception):
    """The database stayed unreachable for ``retry_for`` seconds, or the spool could not be written;
    the message says where the results wait and how to write them."""


class Delivery:
    """Writes batches of one run to a ``ResultStore``, spooling them while the database is away."""

    def __init__(self, store: ResultStore, spool: Spool, *, retry_for: float, replay_hint: str):
        self.store = store
        self.spool = spool
        self.retry_for = retry_for
        self.replay_hint = replay_hint
        self.lost: DatabaseLost | None = None
        self._outage_since: float | None = None
        self._next_attempt = 0.0
        self._backoff = BACKOFF_START
        self._last_error = ""

    def write(self, batch: Batch) -> None:
        """Store a batch now, or spool it; raises ``DatabaseLost`` once the outage outlasts ``retry_for``."""
        if self.lost is None and not self.spool:
            try:
                self._insert(batch)
                return
            except _OUTAGE as error:
                self._outage_began(error)
        self._spooled(self.spool.append, batch)
        if self.lost is None:
            self._retry(wait=self.spool.full)

    def finish(self, run_id: str, state: str) -> None:
        """Record the run's end; first wait for the spool to be written (not when interrupted)."""
        finished_at = datetime.now(timezone.utc)
        if self.lost is None and self.spool:
            if state == "interrupted":
                self._next_attempt = 0.0  # one last try, no waiting: the user asked to stop
            try:
                self._retry(wait=state != "interrupted")
            except DatabaseLost:
                pass
            if self.spool and self.lost is None:
                self.lost = self._lost()
        while self.lost is None:
            try:
                self.store.finish_run(run_id, state, finished_at)
                return
            except _OUTAGE as error:
                if self._outage_since is None:
                    self._outage_began(error)
                self._last_error = one_line(error)
            if state == "interrupted" or time.monotonic() - self._outage_since >= self.retry_for:
                self.lost = self._lost()
            else:
                gevent.sleep(self._backoff)
                self._backoff = min(self._backoff * 2, BACKOFF_MAX)
        if not isinstance(self.lost, _SpoolUnwritable):
            self._spooled(self.spool.append_end, RunEnd(run_id, state, finished_at))
        raise self.lost

    def _spooled(self, append, entry) -> None:
        try:
            append(entry)
        except SpoolWriteError as error:
            held = f"{self.spool.results} results wait in it" if self.spool else "it holds no results"
            self.lost = _SpoolUnwritable(
                f"{error}; {held}: make room, then write them with: {self.replay_hint} "
                f"(a resumed run writes them too, and checks the targets whose results were not kept again)"
            )
            raise self.lost from None

    def _insert(self, batch: Batch) -> None:
        try:
            with gevent.Timeout(WRITE_TIMEOUT):
                self.store.insert(batch)
        except gevent.Timeout:
            self.store.engine.dispose()  # the connection may be mid-statement: never reuse it
            raise _WriteTimedOut(f"a write took longer than {WRITE_TIMEOUT:.0f} s") from None

    def _outage_began(self, error: BaseException) -> None:
        self._outage_since = time.monotonic()
        self._last_error = one_line(error)
        self._backoff = BACKOFF_START
        self._next_attempt = self._outage_since + self._backoff
        log.warning(
            "the database is unreachable (%s); results wait in %s, retrying for up to %.0f s",
            self._last_error, self.spool.path, self.retry_for,
        )

    def _retry(self, wait: bool) -> None:
        """Try to write the spool when the backoff allows; with ``wait``, keep trying until done or lost."""
        while True:
            now = time.monotonic()
            if now >= self._next_attempt and self._drain():
                return
            if time.monotonic() - self._outage_since >= self.retry_for:
                self.lost = self._lost()
                raise self.lost
            if not wait:
                return
            gevent.sleep(max(0.0, min(self._next_attempt - time.monotonic(), self.retry_for)))

    def _drain(self) -> bool:
        """Write every spooled batch not stored yet; ``False`` (and a later retry) if the database fails."""
        written = 0
        try:
            for entry in self.spool.entries():
                if isinstance(entry, Batch):
                    self._insert(entry)
                    written += len(entry)
        except _OUTAGE as error:
            self._last_error = one_line(error)
            self._backoff = min(self._backoff * 2, BACKOFF_MAX)
            self._next_attempt = time.monotonic() + self._backoff
            return False
        log.warning("the database is back: %d spooled results written", written)
        self.spool.remove()
        self._outage_since = None
        return True

    def _lost(self) -> DatabaseLost:
        waited = time.monotonic() - (self._outage_since or time.monotonic())
        return DatabaseLost(
            f"the database was unreachable for {waited:.0f} s ({self._last_error}); "
            f"{self.spool.results} results are kept in {self.spool.path}; "
            f"write them later with: {self.replay_hint}"
        )


class _SpoolUnwritable(DatabaseLost):
    pass


class _WriteTimedOut(Exception):
    pass


_OUTAGE = (SQLAlchemyError, _WriteTimedOut, OSError)
