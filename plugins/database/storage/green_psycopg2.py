"""psycopg2 under gevent: queries wait for their socket through gevent, and never block the process.

psycopg2 calls a process-wide wait callback (``use_gevent``) so that a query yields to other
greenlets instead of blocking in C. COPY refuses to run while that callback is set, so
``storage/copy.py`` lifts it for the COPY's duration (running the COPY in gevent's thread pool).
Every connection made here is gated: while the callback is lifted, its statements, commits,
rollbacks and new connections wait (yielding) until it is back, instead of blocking every greenlet
in C for as long as they take (a lease renewal during a COPY did that, and deadlocked when the
database was reached through a relay running in the same process).
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any, Iterator

import gevent.event
import gevent.monkey

_install_lock = threading.Lock()
_installed = False
_callback_in_place = gevent.event.Event()
_callback_in_place.set()


def use_gevent() -> dict[str, Any]:
    """Make psycopg2 wait through gevent (once per process) and return the ``connect_args`` for gated
    connections; an empty dict when the socket module is not patched (psycopg2 then blocks as usual)."""
    global _installed
    if not gevent.monkey.is_module_patched("socket"):
        return {}
    with _install_lock:
        if not _installed:
            import psycopg2.extensions

            psycopg2.extensions.set_wait_callback(_gevent_wait)
            _installed = True
    return {"connection_factory": _gated_connection_class()}


@contextlib.contextmanager
def wait_callback_lifted() -> Iterator[bool]:
    """Lift the wait callback for the ``with`` block (yields whether there was one to lift); meanwhile
    the gated connections of this process wait for it to be back. Call from a greenlet, never a thread."""
    import psycopg2.extensions

    _wait_for_callback()  # another COPY of this process is under way
    callback = psycopg2.extensions.get_wait_callback()
    if callback is None:
        yield False
        return
    _callback_in_place.clear()
    psycopg2.extensions.set_wait_callback(None)
    try:
        yield True
    finally:
        psycopg2.extensions.set_wait_callback(callback)
        _callback_in_place.set()


def _wait_for_callback() -> None:
    if not _callback_in_place.is_set():
        _callback_in_place.wait()


def _gevent_wait(connection, timeout=None) -> None:
    import psycopg2
    import psycopg2.extensions
    from gevent.socket import wait_read, wait_write

    while True:
        state = connection.poll()
        if state == psycopg2.extensions.POLL_OK:
            return
        if state == psycopg2.extensions.POLL_READ:
            wait_read(connection.fileno(), timeout=timeout)
        elif state == psycopg2.extensions.POLL_WRITE:
            wait_write(connection.fileno(), timeout=timeout)
        else:
            raise psycopg2.OperationalError(f"bad result from poll: {state!r}")


_gated_classes: type | None = None


def _gated_connection_class() -> type:
    """A psycopg2 connection class (and its cursors) that waits for the wait callback before talking to the server."""
    global _gated_classes
    if _gated_classes is not None:
        return _gated_classes
    import psycopg2.extensions

    class GatedCursor(psycopg2.extensions.cursor):
        def execute(self, query, vars=None):
            _wait_for_callback()
            return super().execute(query, vars)

        def executemany(self, query, vars_list):
            _wait_for_callback()
            return super().executemany(query, vars_list)

    class GatedConnection(psycopg2.extensions.connection):
        def __init__(self, dsn, *args, **kwargs):
            _wait_for_callback()
            super().__init__(dsn, *args, **kwargs)
            self.cursor_factory = GatedCursor

        def commit(self):
            _wait_for_callback()
            return super().commit()

        def rollback(self):
            _wait_for_callback()
            return super().rollback()

    _gated_classes = GatedConnection
    return GatedConnection
