"""Executors decide where the pipeline runs; the engine feeds targets in and takes results out.

An executor has two methods: ``results(targets)`` checks an iterator of targets and yields their
results (in completion order), and ``stop()`` abandons the targets in flight. Nothing calls back
into the engine. ``LocalExecutor`` runs the pool in this process; ``ForkedExecutor`` forks worker
processes that each run the same pool loop. A third (distributed) executor plugs in here.
"""

from __future__ import annotations

from typing import Callable, Iterator, Protocol

from healthcrawl.configuration.settings import CrawlSettings
from healthcrawl.crawl.pipeline import Pipeline
from healthcrawl.records import Result, Target

PipelineFactory = Callable[[int], Pipeline]
"""Builds a pipeline for ``pool_size`` targets in flight, in the process that calls it."""


class Executor(Protocol):
    """Where targets are fetched and checked."""

    incidents: list[str]
    """What went wrong where the targets run (a worker that died), one line each, for the run's summary."""

    def results(self, targets: Iterator[Target]) -> Iterator[Result]:
        """Check every target and yield its result; returns when all are done or ``stop()`` was called."""
        ...

    def stop(self) -> None:
        """Abandon the targets in flight; results already finished still come out of ``results``."""
        ...


def build_executor(settings: CrawlSettings, make_pipeline: PipelineFactory) -> Executor:
    """The executor for the settings: forked workers when ``crawl.workers`` > 1, else this process."""
    if settings.workers > 1:
        from healthcrawl.crawl.executors.forked import ForkedExecutor

        route_by_host = settings.per_host_concurrency is not None or settings.per_host_delay > 0
        return ForkedExecutor(settings.workers, settings.concurrency, make_pipeline, route_by_host=route_by_host)
    from healthcrawl.crawl.executors.local import LocalExecutor

    return LocalExecutor(settings.concurrency, make_pipeline)
