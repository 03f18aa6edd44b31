"""A run's results as Prometheus metric families: blackbox_exporter's names per target, and run totals.

``RunMetrics`` is a ``prometheus_client`` collector. ``add`` takes results as they arrive; per-target
values are kept (one small tuple per target) unless ``per_target`` is off, the totals are counters
and histograms of fixed size whatever the number of targets.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import Counter
from datetime import datetime
from typing import Iterable, Iterator, NamedTuple

from prometheus_client.metrics_core import GaugeMetricFamily, HistogramMetricFamily, Metric

from healthcrawl import Result

PHASES = (("resolve", "dns_ms"), ("connect", "connect_ms"), ("tls", "tls_ms"))
"""blackbox_exporter's ``probe_http_duration_seconds`` phases and the timings that fill them."""
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
"""Upper bounds (seconds) of the run-wide duration histograms."""
CERT_DAYS_BUCKETS = (0, 7, 14, 30, 60, 90, 180, 365)
"""Upper bounds (days left) of the run-wide certificate histogram."""
_HISTOGRAM_PHASES = (*PHASES, ("ttfb", "ttfb_ms"), ("total", "total_ms"))


class TargetSample(NamedTuple):
    """What the per-target metrics need of one result."""

    ok: bool
    status_code: int | None
    redirects: int
    seconds: tuple[float | None, ...]
    """``PHASES``' durations, then time to first byte, then total."""
    cert_expiry: float | None
    """The certificate's notAfter as a Unix time."""
    tls_version: str | None
    error_kind: str | None
    checks: tuple[tuple[str, bool], ...]


class _Histogram:
    """Cumulative-ready bucket counts and a sum, for one label set."""

    def __init__(self, bounds: tuple[float, ...]):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    def buckets(self) -> list[tuple[str, float]]:
        cumulative, total = [], 0
        for bound, count in zip((*map(str, map(float, self.bounds)), "+Inf"), self.counts):
            total += count
            cumulative.append((bound, total))
        return cumulative


class RunMetrics:
    """Collects one run's results; ``collect()`` yields the metric families (prometheus_client's collector API)."""

    def __init__(self, per_target: bool = True):
        self.per_target = per_target
        self.targets: dict[str, TargetSample] = {}
        self.outcomes: Counter[str] = Counter()
        self.error_kinds: Counter[str] = Counter()
        self.check_outcomes: Counter[tuple[str, str]] = Counter()
        self.durations = {phase: _Histogram(DURATION_BUCKETS) for phase, _ in _HISTOGRAM_PHASES}
        self.cert_days = _Histogram(CERT_DAYS_BUCKETS)
        self.earliest_expiry: float | None = None
        self.finished_at: datetime | None = None

    def add(self, results: Iterable[Result]) -> None:
        """Count a batch of results (and keep each target's values in per-target mode)."""
        for result in results:
            outcome = "ok" if result.ok else ("error" if result.error_kind else "failed")
            self.outcomes[outcome] += 1
            if result.error_kind:
                self.error_kinds[result.error_kind] += 1
            for check in result.checks:
                self.check_outcomes[check.name, "pass" if check.ok else "fail"] += 1
            seconds = tuple(_seconds(getattr(result.timings, field)) for _, field in _HISTOGRAM_PHASES)
            for (phase, _), value in zip(_HISTOGRAM_PHASES, seconds):
                if value is not None:
                    self.durations[phase].observe(value)
            expiry = _cert_expiry(result)
            if expiry is not None:
                self.earliest_expiry = expiry if self.earliest_expiry is None else min(self.earliest_expiry, expiry)
            if result.tls is not None and result.tls.days_left is not None:
                self.cert_days.observe(result.tls.days_left)
            self.finished_at = max(filter(None, (self.finished_at, result.finished_at)))
            if self.per_target:
                self.targets[result.target] = TargetSample(
                    result.ok, result.status_code, result.redirects, seconds, expiry,
                    result.tls.version if result.tls else None, result.error_kind,
                    tuple((check.name, check.ok) for check in result.checks),
                )

    def collect(self) -> Iterator[Metric]:
        yield from self._run_totals()
        if self.per_target:
            yield from self._per_target()

    def _run_totals(self) -> Iterator[Metric]:
        targets = GaugeMetricFamily("healthcrawl_targets", "Targets of the run by outcome (ok, failed checks, error).",
                                    labels=["outcome"])
        for outcome in ("ok", "failed", "error"):
            targets.add_metric([outcome], self.outcomes[outcome])
        yield targets
        errors = GaugeMetricFamily("healthcrawl_errors", "Targets of the run by error kind.", labels=["kind"])
        for kind, count in sorted(self.error_kinds.items()):
            errors.add_metric([kind], count)
        yield errors
        checks = GaugeMetricFamily("healthcrawl_check_results", "Check outcomes of the run by check name and result.",
                                   labels=["check", "result"])
        for (name, verdict), count in sorted(self.check_outcomes.items()):
            checks.add_metric([name, verdict], count)
        yield checks
        durations = HistogramMetricFamily(
            "healthcrawl_phase_duration_seconds",
            "Targets by time spent in a phase (resolve, connect, tls; ttfb and total from the start).",
            labels=["phase"],
        )
        for phase, histogram in self.durations.items():
            durations.add_metric([phase], histogram.buckets(), histogram.sum)
        yield durations
        cert_days = HistogramMetricFamily("healthcrawl_cert_days_left", "Certificates by days left before expiry.")
        cert_days.add_metric([], self.cert_days.buckets(), self.cert_days.sum)
        yield cert_days
        if self.earliest_expiry is not None:
            yield GaugeMetricFamily("healthcrawl_earliest_cert_expiry",
                                    "Unix time of the earliest certificate expiry among the run's targets.",
                                    value=self.earliest_expiry)
        if self.finished_at is not None:
            yield GaugeMetricFamily("healthcrawl_last_result_timestamp_seconds",
                                    "Unix time of the run's last result.", value=self.finished_at.timestamp())

    def _per_target(self) -> Iterator[Metric]:
        families = {
            "success": GaugeMetricFamily("probe_success", "1 when the target passed every check, else 0.", labels=["target"]),
            "status": GaugeMetricFamily("probe_http_status_code", "HTTP status of the final response.", labels=["target"]),
            "redirects": GaugeMetricFamily("probe_http_redirects", "Redirects followed.", labels=["target"]),
            "duration": GaugeMetricFamily("probe_duration_seconds", "Seconds the whole fetch took.", labels=["target"]),
            "phases": GaugeMetricFamily("probe_http_duration_seconds", "Seconds spent in each phase of the fetch.",
                                        labels=["target", "phase"]),
            "ttfb": GaugeMetricFamily("healthcrawl_ttfb_seconds", "Seconds from the start to the first response byte.",
                                      labels=["target"]),
            "expiry": GaugeMetricFamily("probe_ssl_earliest_cert_expiry", "Unix time the server certificate expires.",
                                        labels=["target"]),
            "tls": GaugeMetricFamily("probe_tls_version_info", "The TLS version negotiated.", labels=["target", "version"]),
            "error": GaugeMetricFamily("healthcrawl_error_kind", "1 for the kind of error the target ended with.",
                                       labels=["target", "kind"]),
            "check": GaugeMetricFamily("healthcrawl_check_success", "1 when the named check passed, else 0.",
                                       labels=["target", "check"]),
        }
        for target, sample in self.targets.items():
            families["success"].add_metric([target], int(sample.ok))
            if sample.status_code is not None:
                families["status"].add_metric([target], sample.status_code)
            families["redirects"].add_metric([target], sample.redirects)
            *phases, ttfb, total = sample.seconds
            if total is not None:
                families["duration"].add_metric([target], total)
            for (phase, _), value in zip(PHASES, phases):
                if value is not None:
                    families["phases"].add_metric([target, phase], value)
            if ttfb is not None:
                families["ttfb"].add_metric([target], ttfb)
            if sample.cert_expiry is not None:
                families["expiry"].add_metric([target], sample.cert_expiry)
            if sample.tls_version:
                families["tls"].add_metric([target, sample.tls_version], 1)
            if sample.error_kind:
                families["error"].add_metric([target, sample.error_kind], 1)
            for name, ok in sample.checks:
                families["check"].add_metric([target, name], int(ok))
        yield from families.values()


def _seconds(milliseconds: float | None) -> float | None:
    return None if milliseconds is None else milliseconds / 1000.0


def _cert_expiry(result: Result) -> float | None:
    if result.tls is None or not result.tls.not_after:
        return None
    try:
        return datetime.fromisoformat(result.tls.not_after).timestamp()
    except ValueError:
        return None
