"""The Celery application both sides use: JSON only, late acks, one chunk prefetched per slot, confirmed publishes."""

from __future__ import annotations

from celery import Celery
from kombu import Queue

CHUNK_TASK = "healthcrawl.chunk"
CHUNK_QUEUE = "healthcrawl.chunks"
"""The queue every worker takes chunks from."""
HEARTBEAT = 30
"""Seconds between AMQP heartbeats: a machine that vanishes without closing its connection is noticed
after about two of them, and its unacknowledged chunks go back to the queue."""


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

