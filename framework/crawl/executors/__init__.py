"""Executors decide where the pipeline runs; the engine feeds targets in and takes results out.

An executor has two methods: ``results(targets)`` checks an iterator of targets and yields their
results (in completion order), and ``stop()`` abandons the targets in flight. Nothing calls back
into the engine. ``LocalExecutor`` runs the pool in this process; ``ForkedExecutor`` forks worker
processes that each run the same pool loop; ``DistributedExecutor`` sends chunks of targets to
Celery workers on other machines (when ``crawl.distributed.broker`` is set).

An executor that must know when its results are stored (to acknowledge them to a broker) also
has a ``stored(results)`` method; the engine hands it to the writer, which calls it after each
batch reached every sink.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping, Protocol

from healthcrawl.configuration.settings import CrawlSettings
from healthcrawl.crawl.pipeline import Pipeline
from healthcrawl.crawl.sequence import SeqSet
from healthcrawl.records import Result, Target

if TYPE_CHECKING:
    from healthcrawl.configuration.loading import ComponentSpec
    from healthcrawl.plugin_system.manager import PluginManager

PipelineFactory = Callable[[int], Pipeline]
"""Builds a pipeline for ``pool_size`` targets in flight, in the process that calls it."""


class ExecutorFailed(Exception):
    """The executor cannot go on (e.g. no worker can run the config); the run ends ``failed`` with this message."""


@dataclass(frozen=True)
class RunDescription:
    """What an executor that builds the pipeline on other machines needs to know about the run."""

    run_id: str
    crawl_entry: Mapping[str, Any]
    """The ``crawl`` section as written, which the workers load their settings from."""
    checks: tuple["ComponentSpec", ...]
    """The configured checks, whose entries the workers build their checks from."""
    manager: "PluginManager"
    done: SeqSet = field(default_factory=SeqSet)
    """Sequence numbers the run already has results for (a resumed run): their results are dropped."""


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


def build_executor(settings: CrawlSettings, make_pipeline: PipelineFactory, run: RunDescription) -> Executor:
    """The executor for the settings: Celery workers when ``crawl.distributed.broker`` is set (Celery is
    imported only then), forked workers when ``crawl.workers`` > 1, else this process."""
    if settings.distributed.broker is not None:
        from healthcrawl.crawl.executors.distributed import DistributedExecutor

        return DistributedExecutor(settings, run)
    if settings.workers > 1:
        from healthcrawl.crawl.executors.forked import ForkedExecutor

        route_by_host = settings.per_host_concurrency is not None or settings.per_host_delay > 0
        return ForkedExecutor(settings.workers, settings.concurrency, make_pipeline, route_by_host=route_by_host)
    from healthcrawl.crawl.executors.local import LocalExecutor

    return LocalExecutor(settings.concurrency, make_pipeline)
