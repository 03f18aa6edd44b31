"""Running the pipeline in forked worker processes: the parent shares targets out and collects results.

The parent forks ``workers`` processes (so they inherit the plugins, including any
registered at run time, and the checks built from the config) and talks to each over a
socket pair with length-prefixed pickled frames. Each worker builds its own pipeline and
runs the same pool loop as ``LocalExecutor`` over the targets it receives. Targets leave the
parent in chunks, only as fast as workers finish them (each worker holds at most ``window``
targets), so a huge source is never loaded at once. Results come back in batches and are
yielded to the engine, which hands them to the one writer: the sinks, the summary and the
``healthcrawl_result`` hook see one run.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import socket
import struct
from collections import deque
from typing import Iterator
from urllib.parse import urlsplit

import gevent
import gevent.event
import gevent.lock
import gevent.queue

from healthcrawl.crawl.executors import PipelineFactory
from healthcrawl.crawl.pool_loop import run_pool
from healthcrawl.records import Result, Target

log = logging.getLogger("healthcrawl")

CHUNK = 128
"""Targets per frame sent to a worker (at most its pool size)."""
RESULT_BATCH = 256
"""Results per frame sent back (a partial batch goes after ``FLUSH_INTERVAL``)."""
FLUSH_INTERVAL = 0.05
BACKLOG_WAIT = 0.005
_HEADER = struct.Struct("!I")
_END = object()


class Channel:
    """Length-prefixed pickled messages over a (gevent-cooperative) stream socket."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self._reader = sock.makefile("rb")

    def send(self, message) -> None:
        data = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        self.sock.sendall(_HEADER.pack(len(data)) + data)

    def receive(self):
        """The next message, or ``None`` when the other side has gone."""
        header = self._reader.read(_HEADER.size)
        if len(header) < _HEADER.size:
            return None
        (size,) = _HEADER.unpack(header)
        data = self._reader.read(size)
        return pickle.loads(data) if len(data) == size else None

    def close(self) -> None:
        self._reader.close()
        self.sock.close()


def shares(total: int, parts: int) -> list[int]:
    """Split ``total`` concurrency over ``parts`` workers, each getting at least 1."""
    base, extra = divmod(total, parts)
    return [max(1, base + (1 if index < extra else 0)) for index in range(parts)]


class _Worker:
    """The parent's view of one worker process."""

    def __init__(self, pid: int, channel: Channel, share: int):
        self.pid = pid
        self.channel = channel
        self.chunk = min(CHUNK, share)
        self.window = share + self.chunk  # a full pool plus one chunk waiting: never idle, never hoarding
        self.outstanding = 0
        self.room = gevent.event.Event()
        self.room.set()
        self.backlog: deque[Target] = deque()  # routed here by another feeder, not sent yet


class ForkedExecutor:
    """Checks targets in ``count`` forked processes that share ``concurrency`` between them.

    With ``route_by_host`` every target of one host goes to the same worker, so that per-host
    limits hold for the whole crawl, not per worker.
    """

    def __init__(self, count: int, concurrency: int, make_pipeline: PipelineFactory, route_by_host: bool = False):
        self.count = count
        self.concurrency = concurrency
        self.make_pipeline = make_pipeline
        self._route_by_host = route_by_host
        self._workers: list[_Worker] = []
        self._stopping = False
        self._reading = gevent.lock.Semaphore()  # one feeder at a time advances the source
        self._failure: Exception | None = None
        self._targets: Iterator[Target] = iter(())
        self._exhausted = False

    def results(self, targets: Iterator[Target]) -> Iterator[Result]:
        """Fork the workers, share ``targets`` out and yield every result; returns when every worker has finished.

        An exception from ``targets`` (a failing source) stops every worker cleanly and is raised
        here after the results that were already finished.
        """
        self._targets = iter(targets)
        self._fork_workers()
        arrived: gevent.queue.Queue = gevent.queue.Queue(RESULT_BATCH * len(self._workers))
        collectors = [gevent.spawn(self._collect, worker, arrived) for worker in self._workers]
        feeders = [gevent.spawn(self._feed, worker) for worker in self._workers]
        all_collected = gevent.spawn(lambda: (gevent.joinall(collectors), arrived.put(_END)))
        try:
            while (result := arrived.get()) is not _END:
                yield result
            if self._failure is not None:
                raise self._failure
        finally:
            gevent.killall(feeders + collectors + [all_collected])
            for worker in self._workers:
                worker.channel.close()
                _reap(worker.pid)

    def stop(self) -> None:
        """Ask every worker to abandon its in-flight targets and send what it has finished."""
        self._stopping = True
        for worker in self._workers:
            worker.room.set()
            try:
                worker.channel.send(("stop",))
            except OSError:
                pass

    def _fork_workers(self) -> None:
        for share in shares(self.concurrency, self.count):
            parent_end, child_end = socket.socketpair()
            pid = os.fork()
            if pid == 0:  # the worker: never returns
                _run_child(self.make_pipeline, parent_end, child_end, share, [w.channel for w in self._workers])
            child_end.close()
            self._workers.append(_Worker(pid, Channel(parent_end), share))

    def _feed(self, worker: _Worker) -> None:
        """Feed ``worker``; if reading the targets fails, stop every worker cleanly and keep the error for
        ``results`` (raised here, gevent would print it as a traceback and the workers would die mid-send)."""
        try:
            self._feed_targets(worker)
        except Exception as error:
            if self._failure is None:
                self._failure = error
            self.stop()

    def _feed_targets(self, worker: _Worker) -> None:
        while not self._stopping:
            gevent.sleep(0)  # let the other feeders take their turn
            worker.room.wait()
            if self._stopping:
                return
            chunk = self._next_chunk(worker)
            if self._stopping:
                return
            if chunk:
                worker.outstanding += len(chunk)
                if worker.outstanding >= worker.window:
                    worker.room.clear()
                worker.channel.send(("targets", chunk))
            elif not self._exhausted:
                gevent.sleep(BACKLOG_WAIT)  # the targets read last belong to another worker that is full
            if self._exhausted and not worker.backlog:
                worker.channel.send(("end",))
                return

    def _next_chunk(self, worker: _Worker) -> list[Target]:
        """Up to a chunk of ``worker``'s targets: its backlog first, then fresh ones from the source."""
        chunk = [worker.backlog.popleft() for _ in range(min(worker.chunk, len(worker.backlog)))]
        while len(chunk) < worker.chunk and not self._exhausted:
            with self._reading:  # a source may wait on gevent I/O while another feeder wants the next target
                target = next(self._targets, None)
            if target is None:
                self._exhausted = True
            elif not self._route_by_host:
                chunk.append(target)
            else:
                owner = self._workers[hash(_host(target)) % len(self._workers)]
                if owner is worker:
                    chunk.append(target)
                else:
                    owner.backlog.append(target)
                    if len(owner.backlog) >= owner.window:
                        break  # read no further until that worker catches up
        return chunk

    def _collect(self, worker: _Worker, arrived: gevent.queue.Queue) -> None:
        while True:
            message = worker.channel.receive()
            if message is None:
                if not self._stopping:
                    log.error("worker %d exited unexpectedly with %d targets in flight", worker.pid, worker.outstanding)
                return
            if message[0] == "done":
                return
            results = message[1]
            worker.outstanding -= len(results)
            if worker.outstanding < worker.window:
                worker.room.set()
            for result in results:
                arrived.put(result)


def _run_child(
    make_pipeline: PipelineFactory, parent_end: socket.socket, child_end: socket.socket, share: int,
    siblings: list[Channel],
) -> None:
    """The body of a forked worker: a fresh event loop, the terminal's signals ignored (the parent decides), serve, exit.

    Destroying the inherited hub drops every watcher the parent had (servers running in
    the same process, as in tests and demos, timers, signal handlers), so the worker runs
    nothing but its own loop.
    """
    code = 0
    try:
        parent_end.close()
        for sibling in siblings:
            sibling.sock.close()
        fd = child_end.detach()
        gevent.get_hub().destroy(destroy_loop=True)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _serve(Channel(socket.socket(fileno=fd)), share, make_pipeline)
    except BaseException:
        log.exception("worker %d failed", os.getpid())
        code = 1
    finally:
        os._exit(code)


def _serve(channel: Channel, concurrency: int, make_pipeline: PipelineFactory) -> None:
    """A worker's life: the pool loop over the targets the parent sends, results sent back in batches."""
    stop = gevent.event.Event()
    incoming: gevent.queue.Queue = gevent.queue.Queue()

    def read() -> None:
        """Pass the parent's messages on, until a stop (or the parent gone) abandons what is in flight."""
        while True:
            message = channel.receive()
            if message is None or message[0] == "stop":
                stop.set()
                incoming.put(("end",))
                return
            incoming.put(message)

    def targets() -> Iterator[Target]:
        while (message := incoming.get())[0] == "targets":
            yield from message[1]

    reader = gevent.spawn(read)
    pipeline = make_pipeline(concurrency)
    outbox = Outbox(channel)
    try:
        for result in run_pool(pipeline.check_target, targets(), concurrency, stop):
            outbox.put(result)
    finally:
        outbox.close()
        pipeline.close()
        reader.kill()
    channel.send(("done",))


class Outbox:
    """Batches a worker's results and sends them to the parent: when a batch is full, else every ``FLUSH_INTERVAL``."""

    def __init__(self, channel: Channel):
        self._channel = channel
        self._batch: list[Result] = []
        self._flusher = gevent.spawn(self._flush_periodically)

    def put(self, result: Result) -> None:
        self._batch.append(result)
        if len(self._batch) >= RESULT_BATCH:
            self._send()

    def close(self) -> None:
        self._flusher.kill()
        self._send()

    def _send(self) -> None:
        batch, self._batch = self._batch, []
        if batch:
            self._channel.send(("results", batch))

    def _flush_periodically(self) -> None:
        while True:
            gevent.sleep(FLUSH_INTERVAL)
            self._send()


def _host(target: Target) -> str:
    """The host a target is routed by (``""`` for an invalid target, which is never fetched)."""
    if target.invalid is not None:
        return ""
    return urlsplit(target.url).hostname or ""


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
