"""Counting a run's outcomes for the closing summary."""

from __future__ import annotations

import heapq
from collections import Counter
from dataclasses import dataclass, field

from healthcrawl.records import Result

SLOWEST_KEPT = 10


@dataclass
class Summary:
    """Counts by outcome, error kind and failed check, plus the slowest targets."""

    total: int = 0
    ok: int = 0
    failed_checks: int = 0
    errors: int = 0
    by_error_kind: Counter = field(default_factory=Counter)
    by_failed_check: Counter = field(default_factory=Counter)
    _slowest: list[tuple[float, str]] = field(default_factory=list)
    incidents: list[str] = field(default_factory=list)
    """What went wrong around the targets (a worker process that died), one line each."""

    def add(self, result: Result) -> None:
        """Count one result."""
        self.total += 1
        if result.ok:
            self.ok += 1
        elif result.error_kind is not None:
            self.errors += 1
            self.by_error_kind[result.error_kind] += 1
        else:
            self.failed_checks += 1
        for outcome in result.checks:
            if not outcome.ok:
                self.by_failed_check[outcome.name] += 1
        total_ms = result.timings.total_ms
        if total_ms is not None and result.error_kind != "invalid_target":
            entry = (total_ms, result.target)
            if len(self._slowest) < SLOWEST_KEPT:
                heapq.heappush(self._slowest, entry)
            else:
                heapq.heappushpop(self._slowest, entry)

    @property
    def slowest(self) -> list[tuple[str, float]]:
        """``(target, total_ms)`` of the slowest targets, slowest first."""
        return [(target, ms) for ms, target in sorted(self._slowest, reverse=True)]

    def render(self) -> str:
        """The human-readable summary printed at the end of a run. The first line counts targets (``failed a
        check`` and ``errors`` never overlap); the failed-check breakdown counts checks."""
        lines = [f"targets: {self.total}   ok: {self.ok}   failed a check: {self.failed_checks}   errors: {self.errors}"]
        if self.by_error_kind:
            lines.append("errors by kind (targets):")
            lines.extend(f"  {kind:<20} {count}" for kind, count in self.by_error_kind.most_common())
        if self.by_failed_check:
            lines.append("failed checks (a target may fail several):")
            lines.extend(f"  {name:<20} {count}" for name, count in self.by_failed_check.most_common())
        if self.slowest:
            lines.append("slowest targets:")
            lines.extend(f"  {ms:>10.1f} ms  {target}" for target, ms in self.slowest[:5])
        if self.incidents:
            lines.append("incidents:")
            lines.extend(f"  {incident}" for incident in self.incidents)
        return "\n".join(lines)
