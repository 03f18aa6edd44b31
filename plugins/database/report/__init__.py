"""``healthcrawl report``: one stored run as a self-contained HTML page with charts.

``data`` aggregates the run in SQL, ``charts`` turns the aggregates into Vega-Lite specs, ``page``
writes the HTML with the charting library (``bundle``) inlined, so the file opens with no network.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from healthcrawl.plugins.database.report.data import ReportData, gather
from healthcrawl.plugins.database.report.page import render


def write_report(engine: Engine, run_id: str | None, path: Path) -> ReportData:
    """Write the report of ``run_id`` (the newest run when ``None``) to ``path``; returns what it shows."""
    data = gather(engine, run_id)
    html = render(data)
    temporary = path.with_name(f".{path.name}.partial")
    temporary.write_text(html, encoding="utf-8")
    temporary.replace(path)
    return data


def command_report(args) -> None:
    """``healthcrawl report [RUN] -o FILE``."""
    from healthcrawl.plugins.database.history_output import _with_engine

    output = Path(args.output)
    data = _with_engine(args, lambda engine: write_report(engine, args.run_id, output))
    print(f"{output}: report of run {data.run.id} ({data.run.targets:,} targets, {output.stat().st_size / 1e6:.1f} MB)")
