"""What the run-history commands (``runs``, ``show``, ``diff``, ``replay``) do, once their arguments are parsed.

Each reads the database given by ``--db URL``, or the ``sqlalchemy`` sink of ``--config CONFIG``
(a relative SQLite file is relative to the config's folder, as when crawling), or
``sqlite:///healthcrawl.db``. ``runs``, ``show`` and ``diff`` only read: a SQLite file that does not
exist is an error, never a new empty database. Each returns the exit code. Imported only when one
of them runs: it needs SQLAlchemy.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from healthcrawl import CommandFailed, ConfigError
from healthcrawl.cli.tables import format_table
from healthcrawl.configuration.loading import CrawlConfig, load_config
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.plugin_system.registry import ComponentRegistry
from healthcrawl.plugins.database.sink import DatabaseSink
from healthcrawl.plugins.database.storage import DEFAULT_DB
from healthcrawl.plugins.database.storage.engines import resolve_sqlite_url, sqlite_file
from healthcrawl.plugins.database.storage.history import FailingGroup, RunDiff, RunRecord, RunReport, as_utc, diff_runs
from healthcrawl.plugins.database.storage.history import list_runs, run_report
from healthcrawl.plugins.database.storage.migrations import current_database
from healthcrawl.plugins.database.storage.replay import replay_spool
from healthcrawl.plugins.database.storage.store import ResultStore


def database_options(config: CrawlConfig) -> dict | None:
    """The options of the config's first database sink, if it has one."""
    for spec in config.sinks:
        if issubclass(spec.type.cls, DatabaseSink):
            return spec.options
    return None


def expiry_check_name(config: CrawlConfig) -> str:
    """The name of the config's first ``tls_expiry`` check (what ``diff`` follows), ``tls_expiry`` without one."""
    return next((spec.name for spec in config.checks if spec.type.name == "tls_expiry"), "tls_expiry")


def command_runs(args) -> int:
    runs = _with_engine(args, lambda engine: list_runs(engine, args.limit))
    if args.format == "json":
        print(json.dumps([_run_json(run) for run in runs], indent=2))
        return 0
    rows = [("RUN", "CONFIG", "STARTED", "DURATION", "TARGETS", "OK", "FAILED", "STATE")]
    rows += [
        (run.id, run.config, _time(run.started_at), _duration(run), str(run.targets), str(run.ok), str(run.failed),
         run.state)
        for run in runs
    ]
    print(format_table(rows))
    return 0


def command_show(args) -> int:
    report = _with_engine(args, lambda engine: run_report(engine, args.run_id, top=args.limit))
    print(json.dumps(report_json(report), indent=2) if args.format == "json" else report_text(report))
    return 0


def command_diff(args) -> int:
    expiry_check = expiry_check_name(load_config(args.config)) if args.config else "tls_expiry"
    diff = _with_engine(args, lambda engine: diff_runs(engine, args.run_a, args.run_b, expiry_check))
    print(json.dumps(diff_json(diff), indent=2) if args.format == "json" else diff_text(diff))
    return 1 if args.exit_code and diff.newly_failing else 0


def command_replay(args) -> int:
    replayed = _with_engine(args, lambda engine: replay_spool(ResultStore(engine), Path(args.spool)), reads_only=False)
    ended = f"; run {replayed.run_end.run_id} recorded as {replayed.run_end.state}" if replayed.run_end else ""
    print(f"{args.spool}: {replayed.written} results written, {replayed.skipped} already stored{ended}")
    return 0


def report_text(report: RunReport) -> str:
    """``show`` as text: the run, its counts (targets), then the failing targets by error kind and by
    failed check (checks: a target may fail several), the slowest targets and the soonest expiries."""
    run = report.run
    lines = [
        f"run {run.id} ({run.state})",
        f"config:   {run.config}",
        f"started:  {_time(run.started_at)}   duration: {_duration(run)}",
        f"targets:  {run.targets}   ok: {run.ok}   failed a check: {run.failed - report.errors}"
        f"   errors: {report.errors}",
    ]
    for title, groups in (("errors by kind (targets):", report.by_error_kind),
                          ("failed checks (a target may fail several):", report.by_failed_check)):
        if groups:
            lines.append(title)
            lines.extend(_group_lines(groups))
    for title, rows in (
        ("slowest targets:", [(f"{ms:.1f} ms", target) for target, ms in report.slowest]),
        ("certificates expiring soonest:", [(f"{days} days", f"{target} ({not_after})")
                                            for target, days, not_after in report.expiring]),
    ):
        if rows:
            lines.append(title)
            lines.extend("  " + line for line in format_table(rows).splitlines())
    return "\n".join(lines)


def _group_lines(groups: list[FailingGroup]) -> list[str]:
    """Per group: ``NAME  COUNT``, then its first targets (with the error or the check's detail) indented
    under it, and how many more there are."""
    width = max(len(group.name) for group in groups)
    lines = []
    for group in groups:
        lines.append(f"  {group.name:<{width}}  {group.count}")
        rows = [(target, _cell(detail)) for target, detail in group.targets]
        lines.extend("    " + line for line in format_table(rows).splitlines())
        hidden = group.count - len(group.targets)
        if hidden:
            lines.append(f"    ... and {hidden} more (--limit N lists more)")
    return lines


def report_json(report: RunReport) -> dict:
    """``show`` as JSON-ready data."""
    def groups(items: list[FailingGroup], detail: str) -> list[dict]:
        return [{"name": g.name, "targets": g.count, "first": [{"target": t, detail: d} for t, d in g.targets]}
                for g in items]

    return {
        "run": _run_json(report.run),
        "errors": report.errors,
        "failed_a_check": report.run.failed - report.errors,
        "by_error_kind": groups(report.by_error_kind, "error"),
        "by_failed_check": groups(report.by_failed_check, "detail"),
        "slowest": [{"target": target, "total_ms": ms} for target, ms in report.slowest],
        "expiring": [{"target": target, "days_left": days, "not_after": not_after}
                     for target, days, not_after in report.expiring],
    }


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


def _with_engine(args, work, reads_only: bool = True):
    """``work(engine)`` on the command's database; a command that ``reads_only`` never creates one."""
    url = database_url(args)
    path = sqlite_file(url)
    if reads_only and path is not None and not path.is_file():
        whose = f" (the database of {args.config})" if args.config else ""
        raise CommandFailed(
            f"no database at {path}{whose}: no crawl has stored results there; --db URL or --config CONFIG names another"
        )
    with current_database(url) as engine:
        return work(engine)


def database_url(args) -> str:
    """``--db``, else the database sink's URL in ``--config`` (resolved as the crawl resolves it), else the default."""
    if not args.config:
        return args.db or DEFAULT_DB
    config = load_config(args.config, ComponentRegistry.from_plugins(get_plugin_manager()))
    options = database_options(config)
    if options is None:
        raise ConfigError([f"{args.config}: has no {DatabaseSink.type_name} sink"])
    return resolve_sqlite_url(options["url"], config.outputs_dir)


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


