"""One owner per run: the process crawling a run holds a lease on it in the ``runs`` table.

The owner (``HOST:PID``) takes the lease when it starts or resumes the run and renews it
every ``LEASE_SECONDS / 4`` seconds while the run is alive (``Heartbeat``, in the parent
process); finishing the run gives it up. Another process may take the run over only once
the lease has expired: ``--resume`` of a live run is refused with a line naming its owner,
and a ``running`` run whose lease expired is *stale* (its process died) and can be resumed.

Times are the processes' clocks in UTC: hosts that share a database need clocks that agree
to within a fraction of ``LEASE_SECONDS``.
"""

from __future__ import annotations

import logging
import os
import socket
from datetime import datetime, timedelta, timezone

import gevent
import gevent.event
from sqlalchemy import Engine, and_, or_, select, update

from healthcrawl.errors import CommandFailed
from healthcrawl.plugins.database.storage.engines import one_line, retry_while_locked
from healthcrawl.plugins.database.storage.schema import Run

log = logging.getLogger("healthcrawl")

LEASE_SECONDS = 60.0
"""How long a lease lasts without renewal: a run whose process died becomes stale this long after."""


STOP_WAIT = 5.0
"""Seconds ``Heartbeat.stop`` lets a renewal under way finish before it is cut short."""


class RunOwned(CommandFailed):
    """The run is being crawled by another live process; the message names it."""


def this_process() -> str:
    """This process as a run owner: ``HOST:PID``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def lease_end(now: datetime | None = None) -> datetime:
    """When a lease taken or renewed ``now`` ends."""
    return (now or datetime.now(timezone.utc)) + timedelta(seconds=LEASE_SECONDS)


def lease_expired(now: datetime | None = None):
    """A SQL condition: the run has no live lease."""
    now = now or datetime.now(timezone.utc)
    return or_(Run.lease_expires_at.is_(None), Run.lease_expires_at < now)


def take_lease(engine: Engine, run_id: str, owner: str | None = None) -> None:
    """Make ``owner`` (this process by default) the run's owner, unless another one holds a live lease
    (then ``RunOwned`` names it)."""
    owner = owner or this_process()
    now = datetime.now(timezone.utc)
    with engine.begin() as connection:
        taken = connection.execute(
            update(Run)
            .where(Run.id == run_id, or_(Run.owner.is_(None), Run.owner == owner, lease_expired(now)))
            .values(owner=owner, lease_expires_at=lease_end(now))
        ).rowcount
        if taken:
            return
        holder, until = connection.execute(select(Run.owner, Run.lease_expires_at).where(Run.id == run_id)).one()
    raise RunOwned(
        f"run {run_id} is being crawled by {holder} (its lease runs until {until:%H:%M:%S} UTC unless renewed); "
        f"stop that process, or wait: a run whose process died can be resumed {LEASE_SECONDS:.0f} s after"
    )


def renew_lease(engine: Engine, run_id: str, owner: str) -> bool:
    """Push the end of ``owner``'s lease on the run ``LEASE_SECONDS`` ahead; ``False`` if it is not the owner."""
    with engine.begin() as connection:
        return bool(
            connection.execute(
                update(Run).where(and_(Run.id == run_id, Run.owner == owner)).values(lease_expires_at=lease_end())
            ).rowcount
        )


class Heartbeat:
    """Renews a run's lease in a greenlet while the run is alive (a failed renewal is retried next time)."""

    def __init__(self, engine: Engine, run_id: str, owner: str | None = None):
        self.engine = engine
        self.run_id = run_id
        self.owner = owner or this_process()
        self._stopped = gevent.event.Event()
        self._greenlet = gevent.spawn(self._beat)

    def stop(self) -> None:
        """Stop renewing (the lease is given up by recording the run's end); a renewal under way may finish."""
        self._stopped.set()
        self._greenlet.join(timeout=STOP_WAIT)
        self._greenlet.kill()

    def _beat(self) -> None:
        while not self._stopped.wait(LEASE_SECONDS / 4):
            try:
                if not retry_while_locked(lambda: renew_lease(self.engine, self.run_id, self.owner)):
                    log.warning("run %s: another process took the run over", self.run_id)
                    return
            except Exception as error:  # an outage: the delivery reports it; the next beat tries again
                log.debug("run %s: the lease could not be renewed: %s", self.run_id, one_line(error))
