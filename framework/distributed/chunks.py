"""What travels through the broker, as JSON: chunks of targets to workers, results and refusals back.

A chunk carries its run's ``RunSpec`` (the crawl settings and check entries the workers build their
pipeline from, the healthcrawl version and plugins the coordinator has, and a digest of it all), a
chunk id, and its targets with the sequence numbers the coordinator gave them.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from healthcrawl import __version__
from healthcrawl.configuration.settings import CrawlSettings, CrawlSettingsSchema
from healthcrawl.plugin_system.manager import PluginManager
from healthcrawl.records import Result, Snapshot, Target

_SHIPPED_SETTINGS = CrawlSettingsSchema(exclude=("distributed",))
"""Loads the crawl settings workers need: all but ``distributed`` (which holds the broker's credentials)."""


def plugin_versions(manager: PluginManager) -> dict[str, str | None]:
    """``{plugin name: version}`` of every plugin registered with ``manager`` (blocked ones are left out)."""
    return {name: manager.origin(name).version for name, plugin in manager.list_name_plugin() if plugin is not None}


def config_digest(version: str, plugins: Mapping[str, str | None], crawl: Mapping, checks: list) -> str:
    """What coordinator and worker must agree on: healthcrawl version, plugins, crawl settings, check entries."""
    text = json.dumps({"version": version, "plugins": plugins, "crawl": crawl, "checks": checks}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class RunSpec:
    """The part of every chunk that describes its run."""

    run_id: str
    results_queue: str
    crawl: dict
    checks: list
    version: str
    plugins: dict
    deadline: float
    digest: str

    @classmethod
    def build(
        cls, run_id: str, results_queue: str, settings: CrawlSettings, crawl_entry: Mapping[str, Any],
        check_entries: Iterable[Mapping], manager: PluginManager,
    ) -> "RunSpec":
        """The spec of a run the coordinator is about to send out.

        The ``crawl`` section travels as written (``crawl_entry``) and each worker loads it with the
        same schema, so both sides hold the same settings, secrets included: the broker must be trusted.
        """
        crawl = {key: value for key, value in crawl_entry.items() if key != "distributed"}
        checks = [dict(entry) for entry in check_entries]
        plugins = plugin_versions(manager)
        return cls(
            run_id, results_queue, crawl, checks, __version__, plugins, settings.distributed.chunk_deadline,
            config_digest(__version__, plugins, crawl, checks),
        )

    def settings(self) -> CrawlSettings:
        """The crawl settings, as loaded on the coordinator (without ``distributed``)."""
        return _SHIPPED_SETTINGS.load(self.crawl)

    def refusal(self, manager: PluginManager) -> str | None:
        """Why this process cannot run the spec's config (``None`` when it can): what differs, in one line."""
        here = plugin_versions(manager)
        if self.version != __version__:
            return f"healthcrawl {__version__} here, the run needs {self.version}"
        if here != self.plugins:
            missing = sorted(set(self.plugins) - set(here))
            extra = sorted(set(here) - set(self.plugins))
            changed = sorted(n for n in set(here) & set(self.plugins) if here[n] != self.plugins[n])
            parts = [f"{label}: {', '.join(names)}" for label, names in (
                ("plugins missing here", missing), ("plugins only here", extra), ("plugin versions differ", changed),
            ) if names]
            return "; ".join(parts)
        if config_digest(__version__, here, self.crawl, self.checks) != self.digest:
            return "the config digest differs (settings or check options changed on the way)"
        return None


def chunk_message(spec: RunSpec, chunk_id: int, targets: Iterable[Target], shard: int | None = None) -> dict:
    """The task argument of one chunk; ``shard`` is the host shard of its targets (``None``: the shared queue)."""
    return {
        "run": dataclasses.asdict(spec),
        "chunk": chunk_id,
        "shard": shard,
        "targets": [[t.seq, t.url, dict(t.fields), t.invalid, _to_json(t.request)] for t in targets],
    }


def chunk_targets(message: Mapping[str, Any]) -> list[Target]:
    """The targets of a chunk message, with their sequence numbers."""
    return [
        Target(url, fields, invalid, seq, _from_json(request)) for seq, url, fields, invalid, request in message["targets"]
    ]


def _to_json(value: Any) -> Any:
    """A target's request overrides (tuples, bytes) as JSON data that ``_from_json`` turns back."""
    if isinstance(value, bytes):
        return {"__bytes__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (tuple, list)):
        return {"__tuple__": [_to_json(item) for item in value]}
    if isinstance(value, Mapping):
        return {key: _to_json(item) for key, item in value.items()}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if "__bytes__" in value:
            return base64.b64decode(value["__bytes__"])
        if "__tuple__" in value:
            return tuple(_from_json(item) for item in value["__tuple__"])
        return {key: _from_json(item) for key, item in value.items()}
    return value


def results_message(chunk_id: int, worker: str, redelivered: bool, results: Iterable[Result]) -> dict:
    """A worker's answer to a chunk it ran: one result per target."""
    return {
        "kind": "results", "chunk": chunk_id, "worker": worker, "redelivered": redelivered,
        "results": [result.to_record() for result in results],
    }


def refusal_message(chunk_id: int, worker: str, reason: str) -> dict:
    """A worker's answer to a chunk whose config it cannot run."""
    return {"kind": "refused", "chunk": chunk_id, "worker": worker, "reason": reason}


def failed_result(target: Target, run_id: str, reason: str) -> Result:
    """The ``internal_error`` result of a target that could not be checked."""
    now = datetime.now(timezone.utc)
    snapshot = Snapshot(target=target, error_kind="internal_error", error=reason)
    return Result.from_snapshot(snapshot, (), run_id, now, now)
