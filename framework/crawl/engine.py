"""The crawl engine: sources -> executor (the pipeline, wherever it runs) -> the one writer -> sinks.

Everything here runs in the parent process: it reads the sources, numbers the targets
(``Target.seq``: their position in the run's sources), feeds them to the executor, and hands
each result to the writer. Nothing calls back into the engine.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterator

import gevent

from healthcrawl.configuration.loading import CrawlConfig
from healthcrawl.crawl.executors import Executor, build_executor
from healthcrawl.crawl.pipeline import Pipeline
from healthcrawl.crawl.resume import Resume
from healthcrawl.crawl.writer import ResultWriter
from healthcrawl.errors import CommandFailed, ConfigError, one_line
from healthcrawl.plugin_system.components import Check, ComponentContext, ComponentDisabled, RunInfo, Sink, Source
from healthcrawl.plugin_system.manager import PluginManager, get_plugin_manager
from healthcrawl.records import Target
from healthcrawl.summary import Summary

log = logging.getLogger("healthcrawl")


class SinkUnavailable(CommandFailed):
    """A sink could not be opened; the run stops before any target is crawled."""


class SourceFailed(Exception):
    """A source raised while yielding targets; the run ends ``failed`` with this one-line message."""


@dataclass(frozen=True)
class CrawlOutcome:
    """How a run ended: ``state`` is ``completed``, ``interrupted`` or ``failed`` (``error`` says why)."""

    run: RunInfo
    summary: Summary
    state: str
    error: str | None = None


class Crawl:
    """One run of a config. ``run()`` crawls every target and returns the outcome.

    A library program may build and run one as it is: nothing process-wide (garbage collector,
    open-file limit, warnings filters) is changed here; the ``healthcrawl`` command does that.
    """

    def __init__(
        self,
        config: CrawlConfig,
        manager: PluginManager | None = None,
        run_id: str | None = None,
        extra_sinks: list[Sink] = (),
        resume: str | None = None,
    ):
        """``extra_sinks`` are sink instances added to the configured ones (e.g. a ``ResultCollector``);
        ``resume`` continues an earlier run (a run id or unique prefix; ``""`` for the config's latest
        unfinished run), skipping the targets it already has results for."""
        self.config = config
        self.manager = manager or get_plugin_manager()
        self.settings = config.settings
        self.resume = None if resume is None else find_resume(config, resume or None)
        self.run_info = RunInfo(
            run_id=self.resume.run_id if self.resume else run_id or uuid.uuid4().hex,
            config_name=config.name,
            started_at=self.resume.started_at if self.resume else datetime.now(timezone.utc),
            settings=config.settings,
            resumed=self.resume is not None,
        )
        context = ComponentContext(
            base_dir=config.base_dir, run_id=self.run_info.run_id, settings=config.settings, output_dir=config.outputs_dir
        )
        self.sources: list[Source] = _instantiate(config.sources, context)
        self.checks: list[Check] = _instantiate(config.checks, context)
        self.sinks: list[Sink] = _instantiate(config.sinks, context) + list(extra_sinks)
        self.executor: Executor = build_executor(self.settings, self._build_pipeline)
        self._stopping = False

    def run(self, handle_signals: bool = True) -> CrawlOutcome:
        """Open the sinks, crawl every target, flush, close the sinks; SIGINT/SIGTERM interrupt cleanly."""
        self._open_sinks()
        writer = ResultWriter(
            self.sinks, observe=self._observe, on_failure=self.stop, batch_size=self.settings.batch_size
        )
        writer.start()
        handlers = self._install_signal_handlers() if handle_signals else []
        state = "completed"
        error = None
        try:
            self.manager.notify("healthcrawl_crawl_start", run=self.run_info)
            for result in self.executor.results(self._targets()):
                writer.put(result)
        except KeyboardInterrupt:
            self.stop()
        except SourceFailed as failure:
            error = str(failure)
        finally:
            for handler in handlers:
                handler.cancel()
            writer.close()
            writer.summary.incidents.extend(self.executor.incidents)
        if self._stopping:
            state = "interrupted"
        error = error or writer.failure
        if error is not None:
            state = "failed"
        for sink in self.sinks:
            try:
                sink.close(self.run_info, writer.summary, state)
            except Exception as close_error:
                error = error or f"sink {sink.type_name!r} failed: {one_line(close_error)}"
        if error is not None:
            state = "failed"
        self.manager.notify("healthcrawl_crawl_finish", run=self.run_info, summary=writer.summary, state=state)
        return CrawlOutcome(self.run_info, writer.summary, state, error)

    def expected_total(self) -> int | None:
        """How many targets this run will check, when every source can tell cheaply; else ``None``."""
        if self.resume is not None:
            return None  # the targets already checked are skipped
        totals = [source.total() for source in self.sources]
        return None if any(total is None for total in totals) else sum(totals)

    def stop(self) -> None:
        """Abandon in-flight targets and finish: what was already checked is still written."""
        self._stopping = True
        self.executor.stop()

    def _build_pipeline(self, pool_size: int) -> Pipeline:
        """The pipeline of this run, built by the executor in the process that fetches."""
        return Pipeline.build(self.settings, self.checks, self.run_info.run_id, self.manager, pool_size)

    def _open_sinks(self) -> None:
        for sink in self.sinks:
            try:
                sink.open(self.run_info)
            except Exception as error:
                raise SinkUnavailable(f"sink {sink.type_name!r} cannot start: {one_line(error)}") from error

    def _install_signal_handlers(self) -> list:
        return [gevent.signal_handler(signum, self.stop) for signum in (signal.SIGINT, signal.SIGTERM)]

    def _targets(self) -> Iterator[Target]:
        """Every source's targets in order, numbered by their position (``seq``); those a resumed run has are skipped."""
        done = self.resume.done if self.resume else ()
        seq = 0
        for source in self.sources:
            try:
                for target in source.targets():
                    if seq not in done:
                        yield dataclasses.replace(target, seq=seq)
                    seq += 1
            except Exception as error:
                raise SourceFailed(f"source {source.type_name!r} failed: {one_line(error)}") from error

    def _observe(self, result) -> None:
        self.manager.notify("healthcrawl_result", result=result)


def find_resume(config: CrawlConfig, run_id: str | None) -> Resume:
    """Ask the config's sinks which run to continue; the first sink type that keeps results answers."""
    for spec in config.sinks:
        resume = spec.type.cls.find_resume(spec.options, config.name, run_id)
        if resume is not None:
            return resume
    raise ConfigError([f"--resume needs a sink that keeps results (none of the sinks of {config.name} does)"])


def _instantiate(specs, context: ComponentContext) -> list:
    """Build each configured component; a ``ComponentDisabled`` one is logged and left out.

    Any other exception from a constructor stops the run with a ``ConfigError`` naming the plugin.
    """
    components = []
    for spec in specs:
        try:
            component = spec.type.cls.from_config(spec.options, context)
            if spec.name is not None:
                component.configured_name = spec.name
            components.append(component)
        except ComponentDisabled as reason:
            log.warning("%s (%s) is disabled: %s", spec.place, spec.type.name, reason)
        except ConfigError as error:
            raise ConfigError([f"{spec.place}: {problem}" for problem in error.problems]) from None
        except Exception as error:
            raise ConfigError([
                f"{spec.place}: {spec.type.kind} type {spec.type.name!r} of plugin {spec.type.plugin!r} "
                f"failed to start: {type(error).__name__}: {one_line(error)}"
            ]) from error
    return components
