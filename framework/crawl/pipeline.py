"""The one target-to-result function: fetch, then checks. It knows no pool, no writer and no process.

Every executor runs the same ``Pipeline.check_target`` wherever it fetches: in this process,
in forked worker processes, or (later) on other machines. Invalid targets become results here
too, without a fetch.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Sequence

from healthcrawl.configuration.settings import CrawlSettings
from healthcrawl.errors import one_line
from healthcrawl.fetching.fetcher import Fetcher, build_fetcher
from healthcrawl.plugin_system.components import Check
from healthcrawl.plugin_system.manager import PluginManager
from healthcrawl.records import CheckOutcome, Result, Snapshot, Target

log = logging.getLogger("healthcrawl")


class Pipeline:
    """Turns one target into its result: ``check_target(target) -> Result``.

    Build it in the process that fetches (``Pipeline.build``), after any fork: its fetcher
    holds sockets and the event loop's resolver. ``close()`` it when done.
    """

    def __init__(self, fetcher: Fetcher, checks: Sequence[Check], run_id: str):
        self.fetcher = fetcher
        self.checks = tuple(checks)
        self.run_id = run_id

    @classmethod
    def build(
        cls, settings: CrawlSettings, checks: Sequence[Check], run_id: str, manager: PluginManager, pool_size: int
    ) -> "Pipeline":
        """A pipeline whose fetcher sizes its connection pools for ``pool_size`` targets in flight and
        lets the plugins' ``healthcrawl_prepare_request`` hooks adjust every request."""

        def prepare_request(request) -> None:
            manager.hook.healthcrawl_prepare_request(request=request)

        return cls(build_fetcher(settings, pool_size=pool_size, prepare_request=prepare_request), checks, run_id)

    def check_target(self, target: Target) -> Result:
        """Fetch ``target`` (unless it is invalid), run every check on the snapshot, return the result."""
        started_at = datetime.now(timezone.utc)
        if target.invalid is not None:
            snapshot = Snapshot(target=target, error_kind="invalid_target", error=target.invalid)
        else:
            try:
                snapshot = self.fetcher.fetch(target)
            except Exception as error:
                log.exception("fetching %s failed unexpectedly", target.url)
                snapshot = Snapshot(target=target, error_kind="internal_error", error=one_line(error))
        outcomes = tuple(outcome for check in self.checks if (outcome := _evaluate(check, snapshot)) is not None)
        return Result.from_snapshot(snapshot, outcomes, self.run_id, started_at, datetime.now(timezone.utc))

    def close(self) -> None:
        """Close the fetcher's pooled connections."""
        self.fetcher.close()


def _evaluate(check: Check, snapshot: Snapshot) -> CheckOutcome | None:
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
