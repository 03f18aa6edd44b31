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

import ctypes
import logging
import os
import pickle
import signal
import socket
import struct
import sys
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
PR_SET_PDEATHSIG = 1
"""prctl option: the signal a process gets when its parent dies (Linux)."""
IDLE_WAIT = 0.05
"""Seconds an idle feeder waits before asking again whether every target has an answer."""
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
        self.in_flight: dict[int, Target] = {}  # sent and not answered yet, by seq: what a death gives away
        self.alive = True
        self.room = gevent.event.Event()
        self.room.set()
        self.backlog: deque[Target] = deque()  # routed here by another feeder, not sent yet


class ForkedExecutor:
    """Checks targets in ``count`` forked processes that share ``concurrency`` between them.

    With ``route_by_host`` every target of one host goes to the same worker, so that per-host
    limits hold for the whole crawl, not per worker. A worker that dies (``kill -9``, a crash, its
    own SIGTERM) has its unanswered targets given to the other workers; ``incidents`` says so.
    Targets must carry their ``seq`` (the engine numbers them).
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
        self._orphans: deque[Target] = deque()  # a dead worker's targets, taken before fresh ones
        self.incidents: list[str] = []
        """What went wrong with the workers during the run, one line each, for the run's summary."""

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
        while not self._stopping and worker.alive:
            gevent.sleep(0)  # let the other feeders take their turn
            worker.room.wait()
            if self._stopping or not worker.alive:
                return
            chunk = self._next_chunk(worker)
            if self._stopping:
                return
            if chunk:
                worker.in_flight.update((target.seq, target) for target in chunk)
                if len(worker.in_flight) >= worker.window:
                    worker.room.clear()
                if not self._send(worker, ("targets", chunk)):
                    return
            elif self._all_answered():
                self._send(worker, ("end",))
                return
            else:
                # Targets read last belong to another worker that is full, or are in flight on one that
                # may still die: this worker stays until every target has an answer.
                gevent.sleep(BACKLOG_WAIT if not self._exhausted else IDLE_WAIT)

    def _send(self, worker: _Worker, message) -> bool:
        """Send ``message`` to ``worker``; ``False`` when it is gone (its collector gives its targets away)."""
        try:
            worker.channel.send(message)
            return True
        except OSError:
            if not worker.alive:  # the collector already gave the rest away: this chunk too
                self._orphans.extend(worker.in_flight.values())
                worker.in_flight.clear()
            return False

    def _all_answered(self) -> bool:
        """Whether the source is exhausted and every target has its result: only then do workers get "end"
        (until then a worker that dies may leave targets the others must take)."""
        if not self._exhausted or self._orphans:
            return False
        return not any(w.backlog or w.in_flight for w in self._workers)

    def _next_chunk(self, worker: _Worker) -> list[Target]:
        """Up to a chunk of ``worker``'s targets: its backlog first, then a dead worker's, then fresh ones."""
        chunk = [worker.backlog.popleft() for _ in range(min(worker.chunk, len(worker.backlog)))]
        while len(chunk) < worker.chunk and (target := self._next_target()) is not None:
            owner = self._owner(target) if self._route_by_host else worker
            if owner is worker:
                chunk.append(target)
            else:
                owner.backlog.append(target)
                if len(owner.backlog) >= owner.window:
                    break  # read no further until that worker catches up
        return chunk

    def _next_target(self) -> Target | None:
        if self._orphans:
            return self._orphans.popleft()
        if self._exhausted:
            return None
        with self._reading:  # a source may wait on gevent I/O while another feeder wants the next target
            target = next(self._targets, None)
        if target is None:
            self._exhausted = True
        return target

    def _owner(self, target: Target) -> _Worker:
        """The worker a target's host belongs to; a dead owner's hosts are shared among the live workers."""
        owner = self._workers[hash(_host(target)) % len(self._workers)]
        if owner.alive:
            return owner
        live = [w for w in self._workers if w.alive]
        return live[hash(_host(target)) % len(live)]

    def _collect(self, worker: _Worker, arrived: gevent.queue.Queue) -> None:
        while (message := worker.channel.receive()) is not None and message[0] == "results":
            for result in message[1]:
                worker.in_flight.pop(result.seq, None)
                arrived.put(result)
            if len(worker.in_flight) < worker.window:
                worker.room.set()
        if not self._stopping and (worker.in_flight or worker.backlog or message is None):
            self._worker_lost(worker)

    def _worker_lost(self, worker: _Worker) -> None:
        """Give a worker's unanswered targets to the others and say so in ``incidents``; fail when none is left."""
        worker.alive = False
        worker.room.set()
        unanswered = len(worker.in_flight) + len(worker.backlog)
        self._orphans.extend(worker.in_flight.values())
        self._orphans.extend(worker.backlog)
        worker.in_flight.clear()
        worker.backlog.clear()
        live = [w for w in self._workers if w.alive]
        how = _exit_status(worker.pid)
        if not live:
            if self._failure is None:
                self._failure = WorkersLost(f"every worker died (the last: pid {worker.pid}, {how})")
            self.stop()
            return
        message = f"worker {worker.pid} died ({how}); its {unanswered} unanswered targets went to the other workers"
        log.warning("%s", message)
        self.incidents.append(message)
        for other in live:
            other.room.set()


def _run_child(
    make_pipeline: PipelineFactory, parent_end: socket.socket, child_end: socket.socket, share: int,
    siblings: list[Channel],
) -> None:
    """The body of a forked worker: a fresh event loop, serve, exit.

    Destroying the inherited hub drops every watcher the parent had (servers running in
    the same process, as in tests and demos, timers, signal handlers), so the worker runs
    nothing but its own loop. The terminal's SIGINT is ignored (the parent decides); SIGTERM
    stops the worker after it sent what it finished; the worker gets SIGTERM when the parent
    dies, and closes every inherited end of its siblings' channels, so that each worker's own
    channel is the only thing holding it to the parent.
    """
    code = 0
    try:
        parent_end.close()
        for sibling in siblings:
            sibling.close()
        _stop_when_parent_dies()
        fd = child_end.detach()
        gevent.get_hub().destroy(destroy_loop=True)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _serve(Channel(socket.socket(fileno=fd)), share, make_pipeline)
    except BaseException:
        log.exception("worker %d failed", os.getpid())
        code = 1
    finally:
        os._exit(code)


def _stop_when_parent_dies() -> None:
    """Ask Linux to send this process SIGTERM when its parent dies (``kill -9`` included); elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


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

    def terminate() -> None:
        stop.set()
        incoming.put(("end",))

    reader = gevent.spawn(read)
    sigterm = gevent.signal_handler(signal.SIGTERM, terminate)
    pipeline = make_pipeline(concurrency)
    outbox = Outbox(channel)
    try:
        for result in run_pool(pipeline.check_target, targets(), concurrency, stop):
            outbox.put(result)
    finally:
        sigterm.cancel()
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


class WorkersLost(Exception):
    """Every worker process died; the run cannot go on."""


def _exit_status(pid: int, patience: float = 5.0) -> str:
    """How a child ended (``killed by SIGKILL``, ``exit code 1``), reaping it; waits for it without blocking
    the event loop, at most ``patience`` seconds."""
    for _ in range(int(patience / 0.01)):
        try:
            reaped, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return "already reaped"
        if reaped:
            break
        gevent.sleep(0.01)
    else:
        return "exit status unknown"
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass
