"""Running the pipeline on Celery workers: the coordinator's half of a distributed crawl.

Runs on the machine that starts the run (the coordinator), next to the sources, the writer
and the sinks. Targets leave in chunks (``crawl.distributed.chunk_size``) on the shared chunk
queue; workers answer each chunk with one message on the run's own results queue. Delivery is
at least once, results are exactly once:

- a sequence number already seen (a redelivered chunk fetched again, or one the resumed run
  already has) is dropped before the writer (``SeqSet``);
- a results message is acked only after the writer stored its results (``stored``), so one
  that was not stored comes back after a coordinator crash or a dropped connection;
- a chunk that got no answer while nothing arrived for longer than its deadline, with no
  chunk waiting in the queue, is sent again, at most ``max_attempts`` times in all; then its
  missing targets are recorded as ``internal_error``. A completed run misses no target.

``stop()`` stops sending, deletes the run's results queue (workers then drop the run's
remaining chunks) and ends ``results`` after what already came back.
"""

from __future__ import annotations

import logging
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterator

import gevent
import gevent.event
import gevent.lock
import gevent.queue
from kombu import Consumer, Queue
from kombu.exceptions import OperationalError

from healthcrawl.configuration.settings import CrawlSettings
from healthcrawl.crawl.executors import ExecutorFailed, RunDescription
from healthcrawl.crawl.sequence import SeqSet
from healthcrawl.distributed.broker import CHUNK_QUEUE, CHUNK_TASK, host_shard, make_app, results_queue_name, shard_queue
from healthcrawl.distributed.chunks import RunSpec, chunk_message, failed_result
from healthcrawl.errors import one_line
from healthcrawl.records import Result, Target
from healthcrawl.target_parsing import mask_credentials

log = logging.getLogger("healthcrawl")

RESULTS_PREFETCH = 64
"""Results messages (each up to a chunk's results) the coordinator holds unacked at once."""
RECONCILE_GRACE = 5.0
"""Seconds beyond ``chunk_deadline`` without any answer before unanswered chunks are sent again."""
RECONNECT_ATTEMPTS = 30
"""Failed reconnections in a row (none more than ``RECONNECT_WINDOW`` seconds after the last) before the run fails."""
RECONNECT_WINDOW = 60.0
PARTIAL_CHUNK_AGE = 1.0
"""Seconds a host shard's partial chunk waits for more targets before it is sent as it is (a slow source)."""
_TICK = 0.25
_END = object()


@dataclass
class _Chunk:
    """A chunk sent and not fully answered yet."""

    id: int
    targets: list[Target]
    shard: int | None = None
    """The host shard of all its targets; ``None`` when the run has no per-host limits (the shared queue)."""
    attempts: int = 1
    refusals: int = 0

    def missing(self, received: SeqSet) -> list[Target]:
        return [target for target in self.targets if target.seq not in received]


@dataclass
class _Delivery:
    """A results message whose fresh results are not all stored yet."""

    message: object
    unstored: int


@dataclass
class DistributionCounters:
    """What happened on the way, for the log and for tests."""

    chunks_sent: int = 0
    redelivered: int = 0
    """Chunks a worker received a second time (its first worker died or lost its connection)."""
    duplicates: int = 0
    """Results dropped because their sequence number already had one."""
    resent: int = 0
    """Chunks sent again because nothing answered them in time."""
    refusals: int = 0
    refusing_workers: dict[str, str] = field(default_factory=dict)
    chunks_by_worker: Counter = field(default_factory=Counter)
    """Results messages (chunks answered) per worker process name."""


class DistributedExecutor:
    """Checks targets on the Celery workers connected to ``crawl.distributed.broker``.

    With ``per_host_concurrency`` or ``per_host_delay`` set, every chunk holds targets of one host
    shard only and goes to that shard's queue, which one worker process consumes at a time, so the
    limits hold across the cluster; without them, chunks go to the shared chunk queue.
    """

    def __init__(self, settings: CrawlSettings, run: RunDescription):
        self.options = settings.distributed
        self.run = run
        self.app = make_app(self.options.broker)
        self.queue_name = results_queue_name(run.run_id)
        self.spec = RunSpec.build(
            run.run_id, self.queue_name, settings, run.crawl_entry, [spec.entry for spec in run.checks], run.manager
        )
        self.counters = DistributionCounters()
        self.host_shards = settings.distributed.host_shards if (
            settings.per_host_concurrency is not None or settings.per_host_delay > 0
        ) else None
        """How many shard queues the hosts are spread over; ``None`` when chunks go to the shared queue."""
        self._partial: dict[int, tuple[float, list[Target]]] = {}
        """Per host shard, when its partial chunk was started and its targets (at most host_shards × chunk_size)."""
        self._queues_used: set[str] = set()
        self.incidents: list[str] = []
        """Chunks sent again or given up, one line each, for the run's summary."""
        self._received = SeqSet()
        self._outstanding: dict[int, _Chunk] = {}
        self._room = gevent.lock.Semaphore(self.options.max_enqueued_chunks)
        self._arrived: gevent.queue.Queue = gevent.queue.Queue()
        self._pending: dict[int, _Delivery] = {}
        self._to_ack: list = []
        self._next_chunk = 0
        self._fed = False
        self._finished = False
        self._stopping = False
        self._last_answer = time.monotonic()

    def results(self, targets: Iterator[Target]) -> Iterator[Result]:
        """Send ``targets`` out in chunks and yield each result once, as its chunk's answer arrives."""
        connection = self._connect()
        greenlets = [gevent.spawn(self._consume, connection), gevent.spawn(self._feed, targets)]
        if self.host_shards is not None:
            greenlets.append(gevent.spawn(self._send_partial_chunks_when_stale))
        try:
            while (item := self._arrived.get()) is not _END:
                if isinstance(item, Exception):
                    raise item
                yield from item
        finally:
            gevent.killall(greenlets)
            connection.release()
            self._delete_results_queue()
            log.info(
                "run %s: %d chunks sent, %d redelivered, %d sent again, %d duplicate results dropped; "
                "chunks answered per worker: %s",
                self.run.run_id, self.counters.chunks_sent, self.counters.redelivered, self.counters.resent,
                self.counters.duplicates, dict(self.counters.chunks_by_worker) or "none",
            )

    def stop(self) -> None:
        """Stop sending chunks and end ``results`` after the results that already arrived."""
        self._stopping = True
        self._finish()

    def stored(self, results: list[Result]) -> None:
        """Called by the writer once ``results`` reached every sink: their messages may be acked."""
        for result in results:
            delivery = self._pending.pop(result.seq, None)
            if delivery is not None:
                delivery.unstored -= 1
                if delivery.unstored == 0:
                    self._to_ack.append(delivery.message)

    # The broker connection: one greenlet reads results and acks them; chunks go out through Celery's producer pool.

    def _connect(self):
        connection = self.app.connection_for_read()
        try:
            connection.ensure_connection(max_retries=3, interval_start=0.5)
            self._results_queue(connection.default_channel).declare()
        except (OperationalError, *connection.connection_errors, *connection.channel_errors) as error:
            connection.release()
            raise ExecutorFailed(f"cannot reach the broker {mask_credentials(self.options.broker)}: {one_line(error)}") from None
        return connection

    def _results_queue(self, channel) -> Queue:
        return Queue(self.queue_name, exchange="", routing_key=self.queue_name, durable=True, channel=channel)

    def _consume(self, connection) -> None:
        """Read results messages, ack stored ones, and reconcile; an unexpected error fails the run (never a hang)."""
        try:
            self._consume_until_finished(connection)
        except ExecutorFailed as error:  # a chunk sent again from here could not be published
            self._arrived.put(error)
        except Exception as error:
            log.exception("reading results failed")
            self._arrived.put(ExecutorFailed(f"reading results failed: {type(error).__name__}: {one_line(error)}"))

    def _consume_until_finished(self, connection) -> None:
        """Consume on ``connection``; reconnect when it drops (its unacked messages come back)."""
        failures = 0
        last_failure = 0.0
        while not self._finished:
            try:
                self._consume_on(connection)
            except connection.connection_errors + connection.channel_errors as error:
                if time.monotonic() - last_failure > RECONNECT_WINDOW:
                    failures = 0  # an outage long ago does not count against this one
                last_failure = time.monotonic()
                failures += 1
                if failures > RECONNECT_ATTEMPTS:
                    self._arrived.put(ExecutorFailed(f"lost the broker: {one_line(error)}"))
                    return
                log.warning("broker connection lost (%s); reconnecting", one_line(error))
                self._pending.clear()  # unacked messages come back on the new channel; their results are duplicates then
                self._to_ack.clear()
                gevent.sleep(min(5.0, 0.5 * failures))
                connection.collect()
                try:
                    connection.ensure_connection(max_retries=1)
                except (OperationalError, *connection.connection_errors):
                    continue

    def _consume_on(self, connection) -> None:
        channel = connection.channel()
        consumer = Consumer(
            channel, [self._results_queue(channel)], accept=["json"], on_message=self._on_message,
            prefetch_count=RESULTS_PREFETCH, on_decode_error=self._on_decode_error,
        )
        consumer.consume()
        next_reconcile = time.monotonic() + 1
        while not self._finished:
            try:
                connection.drain_events(timeout=_TICK)
            except socket.timeout:
                pass
            connection.heartbeat_check()  # sends ours and notices a broker gone silent
            acks, self._to_ack = self._to_ack, []
            for message in acks:
                message.ack()
            if time.monotonic() >= next_reconcile:
                next_reconcile = time.monotonic() + 1
                self._reconcile(channel)

    def _on_decode_error(self, message, error) -> None:
        log.error("dropping a results message that is not JSON: %s", one_line(error))
        message.ack()

    def _on_message(self, message) -> None:
        try:
            self._take(message)
        except (KeyError, TypeError, ValueError) as error:
            log.error("dropping a results message that is not a worker's answer: %s", one_line(error))
            message.ack()

    def _take(self, message) -> None:
        body = message.payload
        self._last_answer = time.monotonic()
        if body.get("kind") == "refused":
            message.ack()
            self._refused(body)
            return
        self.counters.chunks_by_worker[body["worker"]] += 1
        if body.get("redelivered"):
            self.counters.redelivered += 1
        fresh = []
        for record in body["results"]:
            seq = record["seq"]
            if seq in self.run.done or not self._received.add(seq):
                self.counters.duplicates += 1
            else:
                fresh.append(Result.from_record(record))
        chunk = self._outstanding.get(body["chunk"])
        if chunk is not None and not chunk.missing(self._received):
            self._answered(chunk)
        if fresh:
            delivery = _Delivery(message, len(fresh))
            for result in fresh:
                self._pending[result.seq] = delivery
            self._arrived.put(fresh)
        else:
            message.ack()
        self._finish_if_done()

    def _refused(self, body: dict) -> None:
        self.counters.refusals += 1
        self.counters.refusing_workers[body["worker"]] = body["reason"]
        chunk = self._outstanding.get(body["chunk"])
        if chunk is None:
            return
        chunk.refusals += 1
        log.warning("worker %s refused chunk %d: %s", body["worker"], chunk.id, body["reason"])
        if chunk.refusals >= self.options.max_attempts:
            self._arrived.put(ExecutorFailed(
                f"no worker can run this config: chunk {chunk.id} was refused {chunk.refusals} times "
                f"(last by {body['worker']}: {body['reason']})"
            ))
            self._finished = True
            return
        self._send(chunk, chunk.missing(self._received))

    def _reconcile(self, channel) -> None:
        """When nothing answered for longer than a chunk may take and no chunk waits in the queue, the
        unanswered chunks are lost: send them again, or after ``max_attempts`` record their targets as failed."""
        if not self._outstanding or time.monotonic() - self._last_answer < self.options.chunk_deadline + RECONCILE_GRACE:
            return
        waiting = sum(channel.queue_declare(queue=name, passive=True).message_count for name in self._queues_used)
        self._last_answer = time.monotonic()
        if waiting:
            log.warning("%d chunks wait in %s and no worker answered for a while: are workers running%s?",
                        waiting, ", ".join(sorted(self._queues_used)),
                        "" if self.host_shards is None else f" (with --host-shards {self.host_shards})")
            return
        for chunk in list(self._outstanding.values()):
            missing = chunk.missing(self._received)
            if chunk.attempts >= self.options.max_attempts:
                reason = f"no worker answered this target's chunk (attempts: {chunk.attempts})"
                log.error("chunk %d: %s; recording %d targets as internal_error", chunk.id, reason, len(missing))
                self.incidents.append(f"chunk {chunk.id}: {reason}; {len(missing)} targets recorded as internal_error")
                failed = [failed_result(target, self.run.run_id, reason) for target in missing]
                for result in failed:
                    self._received.add(result.seq)
                self._arrived.put(failed)
                self._answered(chunk)
            else:
                chunk.attempts += 1
                self.counters.resent += 1
                log.warning("chunk %d got no answer; sending it again (attempt %d)", chunk.id, chunk.attempts)
                self.incidents.append(f"chunk {chunk.id} got no answer and was sent again (attempt {chunk.attempts})")
                self._send(chunk, missing)
        self._finish_if_done()

    # Sending chunks.

    def _feed(self, targets: Iterator[Target]) -> None:
        """Read the targets into chunks (one per host shard being filled, with per-host limits) and send each
        when full, while fewer than ``max_enqueued_chunks`` are unanswered; at the end, send the partial ones."""
        batch: list[Target] = []
        try:
            for target in targets:
                if self._stopping:
                    return
                if target.seq in self._received:  # answered by a results message the interrupted run left
                    continue
                if self.host_shards is not None:
                    self._add_to_shard_chunk(target)
                    continue
                batch.append(target)
                if len(batch) >= self.options.chunk_size:
                    self._send_new(batch)
                    batch = []
            if batch and not self._stopping:
                self._send_new(batch)
            while self._partial and not self._stopping:
                shard = next(iter(self._partial))
                self._send_new(self._partial.pop(shard)[1], shard)
        except Exception as error:
            self._arrived.put(error)
            return
        self._fed = True
        self._finish_if_done()

    def _add_to_shard_chunk(self, target: Target) -> None:
        shard = host_shard(target.url, self.host_shards)
        started, batch = self._partial.setdefault(shard, (time.monotonic(), []))
        batch.append(target)
        if len(batch) >= self.options.chunk_size:
            del self._partial[shard]
            self._send_new(batch, shard)

    def _send_partial_chunks_when_stale(self) -> None:
        """Send the partial chunks that waited ``PARTIAL_CHUNK_AGE`` for more targets (a source that reads slowly)."""
        try:
            while not self._fed and not self._stopping:
                gevent.sleep(PARTIAL_CHUNK_AGE / 2)
                now = time.monotonic()
                for shard in [s for s, (started, _) in self._partial.items() if now - started >= PARTIAL_CHUNK_AGE]:
                    # Room first, then the targets: a chunk taken out of ``_partial`` is outstanding at once,
                    # so the run cannot end while its targets wait here.
                    self._room.acquire()
                    entry = self._partial.pop(shard, None)
                    if entry is None:  # sent full by the feeder meanwhile
                        self._room.release()
                    else:
                        self._send_with_room(entry[1], shard)
        except Exception as error:
            self._arrived.put(error)

    def _send_new(self, targets: list[Target], shard: int | None = None) -> None:
        self._room.acquire()
        self._send_with_room(targets, shard)

    def _send_with_room(self, targets: list[Target], shard: int | None) -> None:
        chunk = _Chunk(self._next_chunk, targets, shard)
        self._next_chunk += 1
        self._outstanding[chunk.id] = chunk
        self._send(chunk, targets)

    def _send(self, chunk: _Chunk, targets: list[Target]) -> None:
        """Publish one chunk (confirmed by the broker, retried by Celery); a broker that stays away fails the run."""
        if self._stopping:
            return
        self.counters.chunks_sent += 1
        queue = CHUNK_QUEUE if chunk.shard is None else shard_queue(chunk.shard, self.host_shards)
        self._queues_used.add(getattr(queue, "name", queue))
        try:
            self.app.send_task(
                CHUNK_TASK, args=[chunk_message(self.spec, chunk.id, targets, chunk.shard)], queue=queue, retry=True,
            )
        except OperationalError as error:
            raise ExecutorFailed(
                f"cannot send chunks to the broker {mask_credentials(self.options.broker)}: {one_line(error)}"
            ) from None

    def _answered(self, chunk: _Chunk) -> None:
        del self._outstanding[chunk.id]
        self._room.release()

    def _finish_if_done(self) -> None:
        if self._fed and not self._outstanding:
            self._finish()

    def _finish(self) -> None:
        if not self._finished:
            self._finished = True
            self._arrived.put(_END)

    def _delete_results_queue(self) -> None:
        """Delete the run's results queue (and what is left in it): workers drop the run's remaining chunks."""
        with self.app.connection_for_write() as connection:
            try:
                connection.default_channel.queue_delete(queue=self.queue_name)
            except connection.connection_errors + connection.channel_errors as error:
                log.warning("could not delete the results queue %s: %s", self.queue_name, one_line(error))
