"""The Celery application both sides use: JSON only, late acks, one chunk prefetched per slot, confirmed publishes."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

from celery import Celery
from kombu import Queue

CHUNK_TASK = "healthcrawl.chunk"
CHUNK_QUEUE = "healthcrawl.chunks"
"""The queue every worker takes chunks from."""
HEARTBEAT = 30
"""Seconds between AMQP heartbeats: a machine that vanishes without closing its connection is noticed
after about two of them, and its unacknowledged chunks go back to the queue."""


def shard_queue(shard: int, host_shards: int) -> Queue:
    """The durable queue of one host shard, consumed by one worker process at a time (single active consumer).

    Its name holds ``host_shards``, so a worker started with another ``--host-shards`` consumes none
    of a run's queues instead of breaking the politeness of another split.
    """
    return Queue(
        f"healthcrawl.shards.{host_shards}.{shard}", exchange="", routing_key=f"healthcrawl.shards.{host_shards}.{shard}",
        durable=True, queue_arguments={"x-single-active-consumer": True},
    )


def host_shard(url: str, host_shards: int) -> int:
    """The shard of the host of ``url`` (the host name per-host limits count by; ``""`` when there is none),
    the same in every process: a hash of the name, not Python's randomised ``hash``."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:  # not a URL at all: an invalid target, never fetched
        host = ""
    digest = hashlib.blake2b(host.encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(digest, "big") % host_shards


def results_queue_name(run_id: str) -> str:
    """The queue a run's results come back through (deleted when the run ends or is interrupted)."""
    return f"healthcrawl.results.{run_id}"


def make_app(broker: str) -> Celery:
    """A Celery app for ``broker`` (an amqp:// URL) that never accepts pickle."""
    app = Celery("healthcrawl", broker=broker, set_as_current=False)
    app.conf.update(
        accept_content=["json"],
        task_serializer="json",
        result_accept_content=["json"],
        event_serializer="json",
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        worker_cancel_long_running_tasks_on_connection_loss=True,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_heartbeat=HEARTBEAT,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"confirm_publish": True},
        task_default_queue=CHUNK_QUEUE,
        task_queues=[Queue(CHUNK_QUEUE, durable=True)],
    )
    return app

