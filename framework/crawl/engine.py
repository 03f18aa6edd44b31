"""The crawl engine: pull targets lazily into a gevent pool, fetch, check, and hand results to the writer."""

from __future__ import annotations

import dataclasses
import gc
import logging
import signal
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Container, Iterator

import gevent
import gevent.event
import gevent.pool

from healthcrawl.plugin_system.components import Check, ComponentContext, ComponentDisabled, RunInfo, Sink, Source
from healthcrawl.configuration.loading import CrawlConfig
from healthcrawl.crawl.resume import Resume
from healthcrawl.errors import ConfigError
from healthcrawl.errors import CommandFailed, one_line
from healthcrawl.process_setup import ensure_open_file_limit
from healthcrawl.fetching.fetcher import Fetcher, OutgoingRequest, build_fetcher
from healthcrawl.fetching.host_limits import HostLimiter
from healthcrawl.records import CheckOutcome, Result, Snapshot, Target, Timings
from healthcrawl.plugin_system.manager import PluginManager, get_plugin_manager
from healthcrawl.summary import Summary
from healthcrawl.crawl.forked_executor import Channel, Outbox, WorkerGroup, serve_worker
from healthcrawl.crawl.writer import ResultWriter

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
    """One run of a config. ``run()`` crawls every target and returns the outcome."""

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
        context = ComponentContext(base_dir=config.base_dir, run_id=self.run_info.run_id, settings=config.settings)
        self.sources: list[Source] = _instantiate(config.sources, context)
        self.checks: list[Check] = _instantiate(config.checks, context)
        self.sinks: list[Sink] = _instantiate(config.sinks, context) + list(extra_sinks)
        self._stopping = gevent.event.Event()
        self._pool = gevent.pool.Pool(self.settings.concurrency)
        self._workers: WorkerGroup | None = None

    def run(self, handle_signals: bool = True) -> CrawlOutcome:
        """Open the sinks, crawl every target, flush, close the sinks; SIGINT/SIGTERM interrupt cleanly."""
        ensure_open_file_limit(self.settings.concurrency)
        self._open_sinks()
        writer = ResultWriter(
            self.sinks, observe=self._observe, on_failure=self.stop, batch_size=self.settings.batch_size
        )
        writer.start()
        handlers = self._install_signal_handlers() if handle_signals else []
        state = "completed"
        error = None
        # Everything alive now (modules, plugins, config) lives for the whole run: keep the
        # cyclic GC from rescanning it per collection, and keep forked workers' copies shared.
        gc.freeze()
        try:
            self.manager.notify("healthcrawl_crawl_start", run=self.run_info)
            if self.settings.workers > 1:
                self._crawl_in_workers(writer)
            else:
                self._crawl_here(writer)
            if self._stopping.is_set():
                state = "interrupted"
        except KeyboardInterrupt:
            state = "interrupted"
            self._pool.kill()
        except SourceFailed as failure:
            error = str(failure)
            self._pool.kill()
        finally:
            for handler in handlers:
                handler.cancel()
            writer.close()
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
        self._stopping.set()
        self._pool.kill(block=False)
        if self._workers is not None:
            gevent.spawn(self._workers.stop)

    def _crawl_here(self, writer: ResultWriter) -> None:
        """Crawl in this process with one pool of ``concurrency`` greenlets."""
        fetcher = self._build_fetcher(self.settings.concurrency)
        try:
            for target in self._targets():
                if self._stopping.is_set():
                    break
                self._pool.spawn(self._check_target, fetcher, writer, target)
            self._pool.join()
        finally:
            fetcher.close()

    def _crawl_in_workers(self, writer: ResultWriter) -> None:
        """Fork ``workers`` processes that fetch; this one only feeds them and writes their results."""
        self._workers = WorkerGroup(
            self.settings.workers,
            self.settings.concurrency,
            self._serve_as_worker,
            route_by_host=self._host_limiter().active,
        )
        self._workers.crawl(
            self._targets(),
            handle_here=lambda target: self._check_target(None, writer, target),
            deliver=writer.put,
        )

    def _serve_as_worker(self, channel: Channel, concurrency: int) -> None:
        fetcher = self._build_fetcher(concurrency)
        try:
            serve_worker(channel, concurrency, lambda target, outbox: self._check_target(fetcher, outbox, target))
        finally:
            fetcher.close()

    def _build_fetcher(self, concurrency: int) -> Fetcher:
        """A fetcher with its own resolver and transport (close it when done)."""
        return build_fetcher(self.settings, pool_size=concurrency, prepare_request=self._prepare_request)

    def _host_limiter(self) -> HostLimiter:
        """The per-host limits of the settings (``active`` says whether there are any)."""
        return HostLimiter(self.settings.per_host_concurrency, self.settings.per_host_delay)

    def _open_sinks(self) -> None:
        for sink in self.sinks:
            try:
                sink.open(self.run_info)
            except Exception as error:
                raise SinkUnavailable(f"sink {sink.type_name!r} cannot start: {one_line(error)}") from error

    def _install_signal_handlers(self) -> list:
        return [gevent.signal_handler(signum, self.stop) for signum in (signal.SIGINT, signal.SIGTERM)]

    def _targets(self) -> Iterator[Target]:
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

    def _check_target(self, fetcher: Fetcher | None, writer: ResultWriter | Outbox, target: Target) -> None:
        """Fetch and check one target (``fetcher`` may be ``None`` for an invalid one) and hand on its result."""
        started_at = datetime.now(timezone.utc)
        if target.invalid is not None:
            snapshot = Snapshot(target=target, error_kind="invalid_target", error=target.invalid, timings=Timings())
        else:
            try:
                snapshot = fetcher.fetch(target)
            except Exception as error:
                log.exception("fetching %s failed unexpectedly", target.url)
                snapshot = Snapshot(target=target, error_kind="internal_error", error=one_line(error))
        outcomes = tuple(outcome for check in self.checks if (outcome := self._evaluate(check, snapshot)) is not None)
        finished_at = datetime.now(timezone.utc)
        writer.put(Result.from_snapshot(snapshot, outcomes, self.run_info.run_id, started_at, finished_at))

    def _evaluate(self, check: Check, snapshot: Snapshot) -> CheckOutcome | None:
        """Run one check (``None`` when it does not apply); an exception or a wrong return value fails it only."""
        try:
            if not check.applies_to(snapshot):
                return None
            outcome = check.evaluate(snapshot)
        except Exception as error:
            return CheckOutcome(check.name, False, f"check raised {type(error).__name__}: {one_line(error)}")
        if not isinstance(outcome, CheckOutcome):
            return CheckOutcome(check.name, False, f"check returned {outcome!r} instead of a CheckOutcome")
        return outcome

    def _prepare_request(self, request: OutgoingRequest) -> None:
        self.manager.hook.healthcrawl_prepare_request(request=request)

    def _observe(self, result: Result) -> None:
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
            components.append(spec.type.cls.from_config(spec.options, context))
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
