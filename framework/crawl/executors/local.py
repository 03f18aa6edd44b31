"""Running the pipeline in this process, with one pool of greenlets."""

from __future__ import annotations

from typing import Iterator

import gevent.event

from healthcrawl.crawl.executors import PipelineFactory
from healthcrawl.crawl.pool_loop import run_pool
from healthcrawl.records import Result, Target


class LocalExecutor:
    """Checks targets in this process with ``concurrency`` greenlets."""

    def __init__(self, concurrency: int, make_pipeline: PipelineFactory):
        self.concurrency = concurrency
        self.make_pipeline = make_pipeline
        self._stop = gevent.event.Event()
        self.incidents: list[str] = []

    def results(self, targets: Iterator[Target]) -> Iterator[Result]:
        pipeline = self.make_pipeline(self.concurrency)
        try:
            yield from run_pool(pipeline.check_target, targets, self.concurrency, self._stop)
        finally:
            pipeline.close()

    def stop(self) -> None:
        self._stop.set()
