"""The worker side: one Celery worker process with the gevent pool, running chunks with the pool loop.

Runs on the crawl machines, in processes that ``healthcrawl worker`` starts (gevent's monkey
patch is applied by the entry point before anything here is imported). Checks and the
``healthcrawl_prepare_request`` hooks run here; sources, sinks and the observer hooks never do.
"""

from __future__ import annotations

import logging
import os
import socket
from collections import OrderedDict
from pathlib import Path

import gevent
import gevent.event
from celery import Celery
import amqp.exceptions
import kombu.exceptions
from celery.exceptions import Reject

from healthcrawl.configuration.loading import build_components, load_components
from healthcrawl.crawl.pipeline import Pipeline
from healthcrawl.crawl.pool_loop import run_pool
from healthcrawl.distributed.broker import CHUNK_QUEUE, CHUNK_TASK, make_app
from healthcrawl.distributed.shards import ShardSubscriptions, shard_step
from healthcrawl.distributed.chunks import (
    RunSpec, chunk_targets, failed_result, refusal_message, results_message,
)
from healthcrawl.errors import ConfigError, one_line
from healthcrawl.plugin_system.components import Check, ComponentContext
from healthcrawl.plugin_system.manager import PluginManager, get_plugin_manager
from healthcrawl.plugin_system.registry import ComponentRegistry
from healthcrawl.records import Result

log = logging.getLogger("healthcrawl")

BROKER_ERRORS = (OSError, amqp.exceptions.ConnectionError, amqp.exceptions.ChannelError, kombu.exceptions.OperationalError)
"""What a dropped or refused broker connection raises."""
KEPT_PIPELINES = 2
"""Pipelines (one per run) a worker process keeps between chunks; older ones are closed."""


class _SharedPipeline:
    """A run's pipeline and how many of its chunks are using it now."""

    def __init__(self, pipeline: Pipeline):
        self.pipeline = pipeline
        self.users = 0


class ChunkRunner:
    """Runs the chunks one worker process receives; never raises, so no chunk is acked without its results.

    Each run's pipeline (fetcher and checks) is built on its first chunk and shared by that run's
    chunks running at once, so per-host limits hold across them.
    """

    def __init__(self, app: Celery, manager: PluginManager, shards: ShardSubscriptions | None = None):
        self.app = app
        self.manager = manager
        self.shards = shards
        self.registry = ComponentRegistry.from_plugins(manager)
        self._pipelines: OrderedDict[str, _SharedPipeline] = OrderedDict()

    def run(self, message: dict, worker: str, redelivered: bool) -> None:
        """Answer one chunk on its run's results queue: with a result per target, or with a refusal.

        Never raises but ``Reject``: when the broker cannot be reached the chunk goes back to the
        queue; a message that is not a chunk is logged and dropped (the coordinator sends again
        what it misses).
        """
        try:
            self._answer(message, worker, redelivered)
        except Reject:
            raise
        except BROKER_ERRORS as error:
            log.warning("broker unreachable (%s); chunk %s goes back to the queue", one_line(error), message.get("chunk"))
            raise Reject(one_line(error), requeue=True) from None
        except Exception:
            log.exception("dropping a chunk message that cannot be read")
        self._hand_over_shard(message)

    def _hand_over_shard(self, message: dict) -> None:
        """After a chunk from a shard queue: wait out the run's ``per_host_delay`` (the next process to take the
        shard starts no sooner after this one's last request), then let the next waiting process take the shard."""
        shard = message.get("shard") if isinstance(message, dict) else None
        if self.shards is None or shard is None:
            return
        try:
            gevent.sleep(float(message["run"]["crawl"].get("per_host_delay") or 0))
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # not a chunk this worker could read: nothing of it was fetched
        self.shards.hand_over(shard)

    def _answer(self, message: dict, worker: str, redelivered: bool) -> None:
        spec = RunSpec(**message["run"])
        chunk_id = message["chunk"]
        if redelivered:
            log.warning("chunk %s of run %s was redelivered (a worker died or lost its connection)", chunk_id, spec.run_id)
        if not self._run_is_live(spec.results_queue):
            log.warning("dropping chunk %s: run %s has ended or was interrupted", chunk_id, spec.run_id)
            return
        reason = spec.refusal(self.manager)
        if reason is not None:
            log.error("refusing chunk %s of run %s: %s", chunk_id, spec.run_id, reason)
            self._publish(spec, refusal_message(chunk_id, worker, reason))
            return
        results = self._check(spec, message)
        self._publish(spec, results_message(chunk_id, worker, redelivered, results))

    def _check(self, spec: RunSpec, message: dict) -> list[Result]:
        """A result for every target of the chunk: checked before the deadline, else ``internal_error``."""
        targets = chunk_targets(message)
        done: dict[int, Result] = {}
        reason = f"the chunk's deadline of {spec.deadline:g} s passed before this target was checked"
        deadline = gevent.Timeout(spec.deadline)
        deadline.start()
        try:
            pipeline = self._pipeline(spec)
            concurrency = max(1, min(len(targets), spec.crawl["concurrency"]))
            for result in run_pool(pipeline.check_target, targets, concurrency, gevent.event.Event()):
                done[result.seq] = result
        except gevent.Timeout as timeout:
            if timeout is not deadline:
                raise
        except Exception as error:
            log.exception("chunk %s of run %s failed", message["chunk"], spec.run_id)
            reason = f"the worker failed: {type(error).__name__}: {one_line(error)}"
        finally:
            deadline.close()
            self._release(spec)
        return [done.get(t.seq) or failed_result(t, spec.run_id, reason) for t in targets]

    def _pipeline(self, spec: RunSpec) -> Pipeline:
        key = f"{spec.run_id}/{spec.digest}"
        if key not in self._pipelines:
            settings = spec.settings()
            checks = self._build_checks(spec, settings)
            self._pipelines[key] = _SharedPipeline(
                Pipeline.build(settings, checks, spec.run_id, self.manager, settings.concurrency)
            )
            self._close_unused()
        self._pipelines.move_to_end(key)
        shared = self._pipelines[key]
        shared.users += 1
        return shared.pipeline

    def _release(self, spec: RunSpec) -> None:
        shared = self._pipelines.get(f"{spec.run_id}/{spec.digest}")
        if shared is not None and shared.users > 0:
            shared.users -= 1

    def _close_unused(self) -> None:
        for key in list(self._pipelines)[:-KEPT_PIPELINES]:
            if self._pipelines[key].users == 0:
                self._pipelines.pop(key).pipeline.close()

    def _build_checks(self, spec: RunSpec, settings) -> list[Check]:
        problems: list[str] = []
        specs = load_components("check", "checks", spec.checks, self.registry, problems)
        if problems:
            raise ConfigError(problems)
        context = ComponentContext(base_dir=Path.cwd(), run_id=spec.run_id, settings=settings)
        return build_components(specs, context)

    def _run_is_live(self, queue: str) -> bool:
        """Whether the run's results queue still exists (the coordinator deletes it when the run ends)."""
        with self.app.pool.acquire(block=True) as connection:
            connection.ensure_connection(max_retries=5, interval_start=0.5)
            channel = connection.channel()
            try:
                channel.queue_declare(queue=queue, passive=True)
                return True
            except connection.channel_errors:
                return False
            finally:
                try:
                    channel.close()
                except (connection.connection_errors + connection.channel_errors):
                    pass

    def _publish(self, spec: RunSpec, body: dict) -> None:
        """Publish ``body`` to the run's results queue, confirmed by the broker (retried a few times)."""
        with self.app.producer_or_acquire() as producer:
            producer.publish(
                body, exchange="", routing_key=spec.results_queue, serializer="json", delivery_mode=2,
                retry=True, retry_policy={"max_retries": 5, "interval_start": 0.5, "interval_step": 1},
            )


def run_worker(broker: str, chunks: int, loglevel: str = "INFO", host_shards: int = 256) -> int:
    """Run one Celery worker in this (monkey-patched) process until it is shut down; return its exit code.

    It takes chunks from the shared chunk queue and from the ``host_shards`` shard queues, up to
    ``chunks`` at once from each, every chunk with its own pool of greenlets.
    """
    app = make_app(broker)
    shards = ShardSubscriptions(host_shards, chunks, accept=list(app.conf.accept_content))
    app.steps["consumer"].add(shard_step(shards))
    runner = ChunkRunner(app, get_plugin_manager(), shards)

    @app.task(name=CHUNK_TASK, bind=True)
    def chunk(task, message: dict) -> None:
        redelivered = bool((task.request.delivery_info or {}).get("redelivered"))
        runner.run(message, task.request.hostname, redelivered)

    worker = app.Worker(
        pool_cls="gevent", concurrency=chunks, hostname=f"healthcrawl.{os.getpid()}@{socket.gethostname()}",
        queues=[CHUNK_QUEUE], loglevel=loglevel, without_mingle=True, without_gossip=True, optimization="fair",
        # No worker-heartbeat events (nothing reads them; AMQP heartbeats are separate): with confirmed publishes,
        # their timer greenlet waited for a confirm that the main loop's drain had consumed, and a warm
        # shutdown waited for that greenlet until the connection timed out (about 90 s).
        without_heartbeat=True,
    )
    worker.start()
    return worker.exitcode or 0
