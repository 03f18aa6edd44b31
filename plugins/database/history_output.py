"""What the run-history commands (``runs``, ``show``, ``diff``, ``replay``) do, once their arguments are parsed.

Each reads the database given by ``--db URL``, or the ``sqlalchemy`` sink of ``--config CONFIG``,
or ``sqlite:///healthcrawl.db``. Imported only when one of them runs: it needs SQLAlchemy.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from healthcrawl import ConfigError
from healthcrawl.cli.tables import format_table
from healthcrawl.configuration.loading import CrawlConfig, load_config
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.plugin_system.registry import ComponentRegistry
from healthcrawl.plugins.database.sink import DatabaseSink
from healthcrawl.plugins.database.storage import DEFAULT_DB
from healthcrawl.plugins.database.storage.history import RunDiff, RunRecord, as_utc, diff_runs, list_runs, run_report
from healthcrawl.plugins.database.storage.migrations import current_database
from healthcrawl.plugins.database.storage.replay import replay_spool
from healthcrawl.plugins.database.storage.store import ResultStore


def database_options(config: CrawlConfig) -> dict | None:
    """The options of the config's first database sink, if it has one."""
    for spec in config.sinks:
        if issubclass(spec.type.cls, DatabaseSink):
            return spec.options
    return None


def command_runs(args) -> None:
    runs = _with_engine(args, lambda engine: list_runs(engine, args.limit))
    rows = [("RUN", "CONFIG", "STARTED", "DURATION", "TARGETS", "OK", "FAILED", "STATE")]
    rows += [
        (run.id, run.config, _time(run.started_at), _duration(run), str(run.targets), str(run.ok), str(run.failed),
         run.state)
        for run in runs
    ]
    print(format_table(rows))


def command_show(args) -> None:
    report = _with_engine(args, lambda engine: run_report(engine, args.run_id))
    run = report.run
    lines = [
        f"run {run.id} ({run.state})",
        f"config:   {run.config}",
        f"started:  {_time(run.started_at)}   duration: {_duration(run)}",
        f"targets:  {run.targets}   ok: {run.ok}   failed: {run.failed}",
    ]
    sections = (
        ("errors by kind:", [(kind, str(n)) for kind, n in report.by_error_kind]),
        ("failed checks:", [(name, str(n)) for name, n in report.by_failed_check]),
        ("slowest targets:", [(f"{ms:.1f} ms", target) for target, ms in report.slowest]),
        ("certificates expiring soonest:", [(f"{days} days", f"{target} ({not_after})")
                                            for target, days, not_after in report.expiring]),
    )
    for title, rows in sections:
        if rows:
            lines.append(title)
            lines.extend("  " + line for line in format_table(rows).splitlines())
    print("\n".join(lines))


def command_diff(args) -> None:
    diff = _with_engine(args, lambda engine: diff_runs(engine, args.run_a, args.run_b))
    print(json.dumps(diff_json(diff), indent=2) if args.format == "json" else diff_text(diff))


def command_replay(args) -> None:
    replayed = _with_engine(args, lambda engine: replay_spool(ResultStore(engine), Path(args.spool)))
    ended = f"; run {replayed.run_end.run_id} recorded as {replayed.run_end.state}" if replayed.run_end else ""
    print(f"{args.spool}: {replayed.written} results written, {replayed.skipped} already stored{ended}")


def diff_json(diff: RunDiff) -> dict:
    """The diff as JSON-ready data: the two runs, then one list per section."""
    headings = {
        "newly_failing": ("target", "before", "after"),
        "recovered": ("target", "before", "after"),
        "status_changed": ("target", "before", "after"),
        "error_kind_changed": ("target", "before", "after"),
        "tls_expiry_crossed": ("target", "days_left_before", "days_left_after"),
    }
    data = {"a": _run_json(diff.a), "b": _run_json(diff.b)}
    for section in RunDiff.SECTIONS:
        items = getattr(diff, section)
        keys = headings.get(section)
        data[section] = [dict(zip(keys, item)) for item in items] if keys else list(items)
    return data


def diff_text(diff: RunDiff) -> str:
    """The diff as text: a heading and a table per non-empty section."""
    lines = [f"a: run {diff.a.id} ({diff.a.config}, {_time(diff.a.started_at)})",
             f"b: run {diff.b.id} ({diff.b.config}, {_time(diff.b.started_at)})"]
    for section in RunDiff.SECTIONS:
        items = getattr(diff, section)
        lines.append(f"{section.replace('_', ' ')}: {len(items)}")
        rows = [(item,) if isinstance(item, str) else tuple(_cell(v) for v in item) for item in items]
        lines.extend("  " + line for line in format_table(rows).splitlines() if rows)
    return "\n".join(lines)


def _with_engine(args, work):
    url = args.db or DEFAULT_DB
    if args.config:
        options = database_options(load_config(args.config, ComponentRegistry.from_plugins(get_plugin_manager())))
        if options is None:
            raise ConfigError([f"{args.config}: has no {DatabaseSink.type_name} sink"])
        url = options["url"]
    with current_database(url) as engine:
        return work(engine)


def _run_json(run: RunRecord) -> dict:
    data = asdict(run)
    data["started_at"] = _time(run.started_at)
    data["finished_at"] = _time(run.finished_at) if run.finished_at else None
    data["duration_s"] = run.duration
    return data


def _time(moment) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")


def _duration(run: RunRecord) -> str:
    return "-" if run.duration is None else f"{run.duration:.1f}s"


def _cell(value) -> str:
    return "-" if value is None else str(value)


