"""The single writer: results go through a bounded queue and reach the sinks in batches."""

from __future__ import annotations

import logging
from typing import Callable

import gevent
import gevent.queue

from healthcrawl.plugin_system.components import Sink
from healthcrawl.errors import one_line
from healthcrawl.records import Result
from healthcrawl.summary import Summary

log = logging.getLogger("healthcrawl")

_CLOSE = object()


class ResultWriter:
    """Collects results from the pool and writes them to every sink from one greenlet.

    ``put`` blocks while the queue is full, so a sink that cannot keep up slows the
    crawl down (back-pressure) instead of letting memory grow. A batch is written
    when it reaches ``batch_size`` results or ``flush_interval`` seconds after its
    first result, whichever comes first.

    A sink whose ``write`` raises fails the run: ``on_failure`` is called once (the
    engine stops crawling), ``failure`` keeps the message, and the results still
    queued go on reaching every sink, so a sink that keeps what it cannot store
    (the database sink's spool) loses nothing.

    ``on_stored`` (if given) is called with each batch that every sink wrote without error.
    """

    def __init__(
        self,
        sinks: list[Sink],
        *,
        observe: Callable[[Result], None],
        on_failure: Callable[[], None] = lambda: None,
        batch_size: int = 500,
        queue_size: int = 10_000,
        flush_interval: float = 1.0,
        on_stored: Callable[[list[Result]], None] | None = None,
    ):
        self.sinks = sinks
        self.observe = observe
        self.on_failure = on_failure
        self.failure: str | None = None
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.on_stored = on_stored
        self.summary = Summary()
        self._queue: gevent.queue.Queue = gevent.queue.Queue(maxsize=queue_size)
        self._greenlet: gevent.Greenlet | None = None

    def start(self) -> None:
        """Start the writer greenlet."""
        self._greenlet = gevent.spawn(self._run)

    def put(self, result: Result) -> None:
        """Queue one result, waiting while the queue is full."""
        if self._greenlet is not None and self._greenlet.dead:
            self._greenlet.get()  # re-raise the sink failure in the producer
        self._queue.put(result)

    def close(self) -> None:
        """Write everything queued, then stop; re-raises a sink failure."""
        self._queue.put(_CLOSE)
        self._greenlet.get()

    def _run(self) -> None:
        while True:
            batch, closing = self._next_batch()
            if batch:
                self._write(batch)
            if closing:
                return

    def _next_batch(self) -> tuple[list[Result], bool]:
        first = self._queue.get()
        if first is _CLOSE:
            return [], True
        batch = [first]
        with gevent.Timeout(self.flush_interval, False):
            while len(batch) < self.batch_size:
                item = self._queue.get()
                if item is _CLOSE:
                    return batch, True
                batch.append(item)
        return batch, False

    def _write(self, batch: list[Result]) -> None:
        for result in batch:
            self.summary.add(result)
            self.observe(result)
        stored = True
        for sink in self.sinks:
            try:
                sink.write(batch)
            except Exception as error:
                stored = False
                self._sink_failed(sink, error)
        if stored and self.on_stored is not None:
            self.on_stored(batch)

    def _sink_failed(self, sink: Sink, error: Exception) -> None:
        message = f"sink {sink.type_name!r} failed: {one_line(error)}"
        if self.failure is None:
            self.failure = message
            self.on_failure()
        else:
            log.debug("%s", message)
