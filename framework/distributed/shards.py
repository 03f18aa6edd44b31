"""The worker side of host shards: consuming the shard queues, one chunk of a shard at a time, and handing
each shard over to the next waiting worker process after every chunk.

Every worker process subscribes to all ``host_shards`` shard queues, which are single-active-consumer
queues: RabbitMQ delivers a shard's chunks to one subscribed process at a time (the one that
subscribed first) and, when it cancels or dies, to the next in line. RabbitMQ 3.10 ignores consumer
priorities there (checked), so the first process to start would own every shard; instead a process
cancels its subscription to a shard after each chunk of it and subscribes again, at the end of the
line, and the shards rotate among the processes.

The subscriptions live on a channel of their own, set up so that a process holds one unacknowledged
chunk per shard (per-consumer prefetch 1: while a chunk of a shard runs here, no other process and
no other slot here runs one of the same shard) and no more than ``--chunks`` in all (channel-wide
prefetch). The RabbitMQ order of the two ``basic.qos`` calls matters: a per-consumer limit set after
a channel-wide one lifted the channel-wide one (checked on 3.10), so the channel-wide one is set last.
"""

from __future__ import annotations

import itertools
import logging

from celery import bootsteps
from kombu.serialization import prepare_accept_content

from healthcrawl.distributed.broker import shard_queue
from healthcrawl.errors import one_line

log = logging.getLogger("healthcrawl")


class ShardSubscriptions:
    """One worker process's subscriptions to the shard queues (re-made on every broker connection)."""

    def __init__(self, host_shards: int, chunks: int, accept: list[str]):
        self.host_shards = host_shards
        self.chunks = chunks
        self.accept = prepare_accept_content(accept)
        self._channel = None
        self._on_message = None
        self._tags: dict[int, str] = {}
        self._subscribed = False
        self._next_tag = itertools.count()

    def start(self, connection, on_message) -> None:
        """Subscribe to every shard queue on a new channel of ``connection``; ``on_message`` runs each chunk."""
        channel = connection.channel()
        channel.basic_qos(0, 1, False)  # per consumer: one chunk of a shard at a time
        channel.basic_qos(0, self.chunks, True)  # per channel, set last (see the module's docstring)
        self._channel, self._on_message, self._tags, self._subscribed = channel, on_message, {}, True
        for shard in range(self.host_shards):
            shard_queue(shard, self.host_shards)(channel).declare()
            self._subscribe(shard)

    def stop(self) -> None:
        """Take no more chunks (a warm shutdown, a lost connection); the channel stays open for running chunks' acks."""
        if self._channel is None or not self._subscribed:
            return
        self._subscribed = False
        try:
            for tag in self._tags.values():
                self._channel.basic_cancel(tag, nowait=True)
        except Exception as error:  # the connection is already gone: nothing to cancel
            log.debug("cancelling the shard subscriptions: %s", one_line(error))

    def close(self) -> None:
        """Forget the channel (after ``stop``, once running chunks finished): Celery closes the connection next,
        and with it the channel; waiting here for the broker's answer to a channel close could hang the shutdown."""
        self.stop()
        self._channel = None

    def hand_over(self, shard: int) -> None:
        """Let the next waiting process take ``shard``: cancel this process's subscription and subscribe again.

        Called from a chunk's greenlet once its results are published and before its ack (the
        chunk still holds this consumer's only prefetch slot, so nothing more of the shard can
        arrive here on the old subscription). Only frames are written, no answer is waited for:
        the worker's main greenlet is the one reading the connection.
        """
        channel = self._channel
        tag = self._tags.get(shard)
        if channel is None or tag is None or not self._subscribed:
            return
        try:
            channel.basic_cancel(tag, nowait=True)
            channel.callbacks.pop(tag, None)  # no CancelOk comes back with nowait
            self._subscribe(shard)
        except Exception as error:  # a dropped connection: the next connection subscribes afresh
            log.warning("could not hand shard %d over: %s", shard, one_line(error))

    def _subscribe(self, shard: int) -> None:
        tag = f"healthcrawl-shard-{shard}-{next(self._next_tag)}"
        self._tags[shard] = tag
        self._channel.callbacks[tag] = self._deliver  # before the frame leaves: a delivery may follow at once
        self._channel.basic_consume(
            queue=shard_queue(shard, self.host_shards).name, consumer_tag=tag, callback=self._deliver, nowait=True,
        )

    def _deliver(self, raw) -> None:
        channel = self._channel
        if channel is None:
            return
        message = channel.message_to_python(raw)
        message.accept = self.accept  # JSON only, as on the shared queue: a pickled chunk is refused unread
        self._on_message(message)


def shard_step(subscriptions: ShardSubscriptions) -> type:
    """A Celery consumer bootstep that keeps ``subscriptions`` on every broker connection of the worker.

    Chunks from the shard queues go to Celery's own task handler (same task, same pool, acked late by
    Celery); the pool grows by ``chunks`` once, so both kinds of queue can fill their prefetch without
    blocking the worker's main greenlet.
    """

    class ShardQueues(bootsteps.StartStopStep):
        requires = ("celery.worker.consumer.tasks:Tasks",)

        def start(self, c):
            if not getattr(c.pool, "healthcrawl_grown", False):
                c.pool.grow(subscriptions.chunks)
                c.pool.healthcrawl_grown = True
            subscriptions.start(c.connection, c.create_task_handler())

        def stop(self, c):
            subscriptions.stop()

        def shutdown(self, c):
            subscriptions.close()

    return ShardQueues
