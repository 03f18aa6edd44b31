"""The report as one self-contained HTML file: styles, scripts, chart specs and data all inline."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from html import escape
from importlib import resources
from string import Template

from healthcrawl.plugins.database.report.bundle import charting_script, charting_versions
from healthcrawl.plugins.database.report.charts import OUTCOME_TITLES, chart_specs
from healthcrawl.plugins.database.report.data import CHANGES_LISTED, OUTCOMES, ReportData
from healthcrawl.plugins.database.storage.history import RunDiff, as_utc

NOTHING = {
    "chart-outcomes": "The run has no results.",
    "chart-error-kinds": "No target ended with an error.",
    "chart-failed-checks": "No check failed.",
    "chart-latency": "No timings were recorded.",
    "chart-certificates": "No target served a certificate.",
    "chart-slowest": "No timings were recorded.",
}
"""What the page says where a chart has nothing to draw."""


def render(data: ReportData, now: datetime | None = None) -> str:
    """The report's HTML."""
    now = now or datetime.now(timezone.utc)
    specs = chart_specs(data, now)
    drawn = {chart_id: spec for chart_id, spec in specs.items() if spec is not None}
    charts = {
        chart_id.removeprefix("chart-").replace("-", "_") + "_chart":
            f'<div class="chart" id="{chart_id}"></div>' if spec else f'<p class="nothing">{NOTHING[chart_id]}</p>'
        for chart_id, spec in specs.items()
    }
    package = resources.files(__package__)
    return Template(package.joinpath("template.html").read_text(encoding="utf-8")).substitute(
        run_id=escape(data.run.id),
        meta=_meta(data),
        cards=_cards(data),
        changes=_changes(data),
        failing=_failing(data),
        made_at=_time(now),
        charting_versions=escape(charting_versions()),
        chart_specs=_script_json(drawn),
        charting_script=charting_script(),
        styles=package.joinpath("report.css").read_text(encoding="utf-8"),
        report_script=package.joinpath("report.js").read_text(encoding="utf-8"),
        **charts,
    )


def _meta(data: ReportData) -> str:
    run = data.run
    duration = "unfinished" if run.duration is None else f"{run.duration:.1f} s"
    return (f"config <code>{escape(run.config)}</code> · {escape(run.state)} · started {_time(run.started_at)} · "
            f"{duration}")


def _cards(data: ReportData) -> str:
    cards = [f'<div class="card"><b>{data.run.targets:,}</b>targets</div>'] + [
        f'<div class="card {outcome}"><b>{data.outcomes[outcome]:,}</b>{OUTCOME_TITLES[outcome]}</div>'
        for outcome in OUTCOMES
    ]
    return f'<div class="cards">{"".join(cards)}</div>'


def _changes(data: ReportData) -> str:
    if data.diff is None:
        return '<p class="nothing">No earlier run of this config is stored.</p>'
    diff = data.diff
    previous = data.previous
    rows = "".join(
        f'<tr><td>{section.replace("_", " ")}</td><td class="num">{len(getattr(diff, section)):,}</td></tr>'
        for section in RunDiff.SECTIONS
    )
    lists = "".join(_change_list(title, items) for title, items in (
        ("Newly failing", diff.newly_failing), ("Recovered", diff.recovered)))
    return (f'<p class="meta">Compared with run <code>{escape(previous.id)}</code> of {_time(previous.started_at)}. '
            f'Every change: <code>healthcrawl diff {escape(previous.id)} {escape(data.run.id)}</code></p>'
            f'<div class="pair"><table><thead><tr><th>change</th><th class="num">targets</th></tr></thead>'
            f'<tbody>{rows}</tbody></table><div>{lists}</div></div>')


def _change_list(title: str, items: list[tuple[str, str, str]]) -> str:
    if not items:
        return ""
    shown = items[:CHANGES_LISTED]
    more = f"<li class='note'>and {len(items) - len(shown):,} more</li>" if len(items) > len(shown) else ""
    entries = "".join(f'<li><span class="target">{escape(target)}</span>: {escape(str(before))} → '
                      f'{escape(str(after))}</li>' for target, before, after in shown)
    return f"<h3>{title}</h3><ul>{entries}{more}</ul>"


def _failing(data: ReportData) -> str:
    if not data.failing:
        return '<p class="nothing">Every target passed.</p>'
    shown = len(data.failing)
    note = (f"The table holds the first {shown:,} of {data.failing_total:,} failing targets (in source order). "
            f"The database holds them all: <code>healthcrawl show {escape(data.run.id)}</code>, or SQL such as "
            f"<code>SELECT target, error_kind, error FROM results WHERE run_id = '{escape(data.run.id)}' "
            f"AND NOT ok</code>." if data.failing_total > shown else f"All {shown:,} failing targets.")
    rows = "".join(
        "<tr>"
        f'<td class="num">{row.seq}</td>'
        f'<td class="target">{escape(row.target)}</td>'
        f"<td>{escape(row.error_kind or 'failed check')}</td>"
        f'<td class="num">{"" if row.status_code is None else row.status_code}</td>'
        f"<td>{escape(', '.join(row.failed_checks))}</td>"
        f"<td>{escape(row.detail[:300])}</td>"
        f'<td class="num" data-sort="{row.total_ms if row.total_ms is not None else -1}">'
        f'{"" if row.total_ms is None else f"{row.total_ms:,.1f}"}</td>'
        "</tr>"
        for row in data.failing
    )
    headers = "".join(f'<th class="sortable{" num" if numeric else ""}">{title}</th>' for title, numeric in (
        ("#", True), ("target", False), ("outcome", False), ("status", True), ("failed checks", False),
        ("detail", False), ("total ms", True)))
    return (f'<p class="note">{note}</p>'
            f'<input type="search" id="failing-search" placeholder="Search targets, errors, checks…" '
            f'aria-label="search the failing targets"> <span class="note"><span id="failing-shown">{shown}</span> shown'
            f'</span><table id="failing"><thead><tr>{headers}</tr></thead><tbody>{rows}</tbody></table>')


def _script_json(value: object) -> str:
    """JSON that cannot end the ``<script>`` element it sits in."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("</", "<\\/")


def _time(moment: datetime) -> str:
    return as_utc(moment).strftime("%Y-%m-%d %H:%M:%S UTC")
