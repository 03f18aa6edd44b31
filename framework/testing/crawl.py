"""Running a crawl in-process from a config dict, for tests of healthcrawl and of its plugins."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from healthcrawl.testing.collector import ResultCollector
from healthcrawl.plugin_system.components import Sink
from healthcrawl.configuration.loading import build_config
from healthcrawl.crawl.engine import Crawl, CrawlOutcome
from healthcrawl.plugin_system.manager import PluginManager, get_plugin_manager
from healthcrawl.plugin_system.registry import ComponentRegistry


def run_crawl_outcome(
    config: dict[str, Any],
    *,
    manager: PluginManager | None = None,
    base_dir: Path | None = None,
    extra_sinks: list[Sink] = (),
    resume: str | None = None,
) -> tuple[CrawlOutcome, list[dict[str, Any]]]:
    """Validate ``config`` (what a YAML file would hold), crawl it, return the outcome and the records.

    ``crawl.workers`` defaults to 1 here (not to the number of CPUs).

    ``extra_sinks`` are sink instances that receive the results too (besides the configured sinks);
    ``resume`` is ``Crawl``'s (a run id, or ``""`` for the latest unfinished run).
    """
    manager = manager or get_plugin_manager()
    # One process unless the test asks for more: plugins registered by a test then run where it can see them.
    config = {**config, "crawl": {"workers": 1, **(config.get("crawl") or {})}}
    crawl_config = build_config(config, ComponentRegistry.from_plugins(manager), name="test", base_dir=base_dir)
    collector = ResultCollector()
    outcome = Crawl(crawl_config, manager, extra_sinks=[*extra_sinks, collector], resume=resume).run(
        handle_signals=False
    )
    return outcome, collector.records()


def run_crawl(config: dict[str, Any], **kwargs) -> list[dict[str, Any]]:
    """Crawl ``config`` in-process and return the result records, in completion order."""
    return run_crawl_outcome(config, **kwargs)[1]


def records_by_target(records: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Index result records by their ``target``."""
    return {record["target"]: record for record in records}
