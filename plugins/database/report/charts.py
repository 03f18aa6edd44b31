"""The report's charts as Vega-Lite specifications (plain dicts, drawn in the page by vega-embed).

Each function takes aggregated data and returns a spec with its data inline, or ``None`` when
there is nothing to draw (the page then says so instead).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from healthcrawl.plugins.database.report.data import LATENCY_EDGES_MS, OUTCOMES, ReportData

SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json"
"""Names the spec's version; vega-embed never fetches it."""
OUTCOME_COLOURS = {"ok": "#2e7d32", "failed": "#f9a825", "error": "#c62828"}
OUTCOME_TITLES = {"ok": "ok", "failed": "failed checks", "error": "errors"}
WIDTH = "container"
ROW_PX = 22
"""Height of one bar or line in the charts with a row per item."""
COUNT_AXIS = {"tickMinStep": 1, "labelExpr": "datum.value % 1 ? '' : format(datum.value, ',d')"}
"""An axis of whole numbers (target counts); the label test is for facets, where Vega-Lite ignores tickMinStep."""
CERTIFICATE_HORIZON_DAYS = 400
"""Certificates expiring later than this are drawn at the timeline's right edge."""


def chart_specs(data: ReportData, now: datetime | None = None) -> dict[str, dict | None]:
    """Every chart of the report by its element id."""
    summary = data.summary
    return {
        "chart-outcomes": outcomes_chart(data),
        "chart-error-kinds": bar_chart([{"name": g.name, "targets": g.count} for g in summary.by_error_kind],
                                       "error kind", "#c62828"),
        "chart-failed-checks": bar_chart([{"name": g.name, "targets": g.count} for g in summary.by_failed_check],
                                         "check", "#f9a825"),
        "chart-latency": latency_chart(data),
        "chart-certificates": certificates_chart(data, now or datetime.now(timezone.utc)),
        "chart-slowest": slowest_chart(data),
    }


def _base(rows: int, **spec) -> dict:
    """A single-view spec as wide as its container and ``rows`` bars high (a fixed height: no resize warnings)."""
    return {"$schema": SCHEMA, "width": WIDTH, "height": max(2, rows) * ROW_PX, "autosize": {"type": "fit-x", "contains": "padding"}, "config": {"view": {"stroke": None}, "font": "system-ui, sans-serif"},
            **spec}


def outcomes_chart(data: ReportData) -> dict | None:
    """This run's targets by outcome, beside the previous run's when there is one."""
    runs = [("this run", data.outcomes)]
    if data.previous is not None:
        runs.insert(0, ("previous run", data.previous_outcomes))
    values = [{"run": name, "outcome": OUTCOME_TITLES[o], "order": i, "targets": counts[o]}
              for name, counts in runs for i, o in enumerate(OUTCOMES) if counts[o]]
    if not values:
        return None
    return _base(
        len(runs),
        data={"values": values},
        mark={"type": "bar", "tooltip": True},
        encoding={
            "y": {"field": "run", "type": "nominal", "title": None, "sort": [name for name, _ in runs]},
            "x": {"field": "targets", "type": "quantitative", "stack": "normalize", "title": "share of targets",
                  "axis": {"format": "%"}},
            "color": {"field": "outcome", "type": "nominal", "title": None,
                      "scale": {"domain": [OUTCOME_TITLES[o] for o in OUTCOMES],
                                "range": [OUTCOME_COLOURS[o] for o in OUTCOMES]},
                      "legend": {"orient": "bottom"}},
            "order": {"field": "order"},
        },
    )


def bar_chart(values: list[dict], title: str, colour: str) -> dict | None:
    """Horizontal bars of ``targets`` per ``name``, most first."""
    if not values:
        return None
    return _base(
        len(values),
        data={"values": values},
        mark={"type": "bar", "color": colour, "tooltip": True},
        encoding={
            "y": {"field": "name", "type": "nominal", "title": title, "sort": "-x"},
            "x": {"field": "targets", "type": "quantitative", "title": "targets", "axis": COUNT_AXIS},
        },
    )


def latency_chart(data: ReportData) -> dict | None:
    """One histogram per phase over the same logarithmic buckets."""
    if not data.latency:
        return None
    labels = [f"≤ {_ms(edge)}" for edge in LATENCY_EDGES_MS] + [f"> {_ms(LATENCY_EDGES_MS[-1])}"]
    values = [{"phase": b.phase, "bucket": labels[b.index], "targets": b.count} for b in data.latency]
    phases = list(dict.fromkeys(b.phase for b in data.latency))
    return {
        "$schema": SCHEMA,
        "data": {"values": values},
        "facet": {"field": "phase", "type": "nominal", "title": None, "sort": phases},
        "columns": 3,
        "spec": {
            "width": 260, "height": 140,
            "mark": {"type": "bar", "color": "#1565c0", "tooltip": True},
            "encoding": {
                "x": {"field": "bucket", "type": "ordinal", "sort": labels, "title": "milliseconds",
                      "scale": {"domain": labels}},
                "y": {"field": "targets", "type": "quantitative", "title": "targets", "axis": COUNT_AXIS},
            },
        },
        "resolve": {"scale": {"y": "independent"}},
        "config": {"font": "system-ui, sans-serif"},
    }


def certificates_chart(data: ReportData, now: datetime) -> dict | None:
    """A bar from today to each certificate's expiry, soonest first (an expired one reaches back from today).

    Bars end at ``CERTIFICATE_HORIZON_DAYS`` from today, so one far-off expiry does not squash the rest.
    """
    expiring = [(target, days, not_after) for target, days, not_after in data.summary.expiring if not_after]
    if not expiring:
        return None
    today = now.date()
    horizon = today + timedelta(days=CERTIFICATE_HORIZON_DAYS)
    values = [{"target": target, "days_left": days, "expires": not_after[:10], "today": today.isoformat(),
               "bar_end": min(datetime.fromisoformat(not_after).date(), horizon).isoformat(),
               "state": "expired" if days < 0 else ("under 30 days" if days < 30 else "30 days or more")}
              for target, days, not_after in expiring]
    return _base(
        len(values),
        data={"values": values},
        mark={"type": "bar", "height": 10, "cornerRadiusEnd": 5},
        encoding={
            "y": {"field": "target", "type": "nominal", "title": None, "sort": {"field": "days_left"}},
            "x": {"field": "today", "type": "temporal", "title": "from today to the expiry date"},
            "x2": {"field": "bar_end"},
            "color": {"field": "state", "type": "nominal", "title": None,
                      "scale": {"domain": ["expired", "under 30 days", "30 days or more"],
                                "range": ["#c62828", "#f9a825", "#2e7d32"]}, "legend": {"orient": "bottom"}},
            "tooltip": [{"field": "target"}, {"field": "expires"}, {"field": "days_left", "title": "days left"}],
        },
    )


def slowest_chart(data: ReportData) -> dict | None:
    """The slowest targets' total time."""
    values = [{"target": target, "total_ms": ms} for target, ms in data.summary.slowest]
    if not values:
        return None
    return _base(
        len(values),
        data={"values": values},
        mark={"type": "bar", "color": "#6a1b9a", "tooltip": True},
        encoding={
            "y": {"field": "target", "type": "nominal", "title": None, "sort": "-x"},
            "x": {"field": "total_ms", "type": "quantitative", "title": "total milliseconds"},
        },
    )


def _ms(value: float) -> str:
    return f"{value // 1000:g} s" if value >= 1000 else f"{value:g} ms"
