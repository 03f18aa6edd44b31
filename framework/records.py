"""The records that flow through a crawl: targets, fetch snapshots, check outcomes and results."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Mapping

ERROR_KINDS = (
    "invalid_target",
    "dns_error",
    "connect_refused",
    "connect_timeout",
    "connect_error",
    "tls_error",
    "connection_reset",
    "timeout",
    "protocol_error",
    "too_many_redirects",
    "internal_error",
)
"""Every value that ``Result.error_kind`` may take besides ``None`` (a contract)."""

RESULT_KEYS = (
    "target",
    "run_id",
    "ok",
    "error_kind",
    "error",
    "status_code",
    "final_url",
    "redirects",
    "body_bytes",
    "body_truncated",
    "checks",
    "timings",
    "tls",
    "started_at",
    "finished_at",
)
"""The keys of a result record, in order (a contract)."""


@dataclass(frozen=True)
class Target:
    """One thing to check.

    ``url`` is the normalised URL (a bare domain becomes ``https://domain/``), or the
    raw line when ``invalid`` says why it cannot be crawled. ``fields`` carries
    per-target values from the source (for example a CSV column) that checks may read.
    """

    url: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    invalid: str | None = None


@dataclass(frozen=True)
class Timings:
    """Milliseconds spent in each phase; ``None`` where a phase did not happen."""

    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None
    total_ms: float | None = None


@dataclass(frozen=True)
class TlsInfo:
    """Facts about the server certificate, filled in even when verification failed."""

    verified: bool
    days_left: int | None
    not_after: str | None
    subject: str | None
    issuer: str | None
    sans: tuple[str, ...]
    version: str | None


@dataclass(frozen=True)
class Snapshot:
    """What one fetch saw; checks evaluate this instead of doing their own I/O."""

    target: Target
    status_code: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    body_truncated: bool = False
    final_url: str | None = None
    redirects: int = 0
    tls: TlsInfo | None = None
    timings: Timings = field(default_factory=Timings)
    error_kind: str | None = None
    error: str | None = None


@dataclass(frozen=True)
class CheckOutcome:
    """The verdict of one check on one snapshot."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Result:
    """The record stored for one target (see ``RESULT_KEYS``)."""

    target: str
    run_id: str
    ok: bool
    error_kind: str | None
    error: str | None
    status_code: int | None
    final_url: str | None
    redirects: int
    body_bytes: int
    body_truncated: bool
    checks: tuple[CheckOutcome, ...]
    timings: Timings
    tls: TlsInfo | None
    started_at: datetime
    finished_at: datetime

    @classmethod
    def from_snapshot(
        cls,
        snapshot: Snapshot,
        checks: tuple[CheckOutcome, ...],
        run_id: str,
        started_at: datetime,
        finished_at: datetime,
    ) -> "Result":
        """Combine a snapshot and its check outcomes into a result."""
        return cls(
            target=snapshot.target.url,
            run_id=run_id,
            ok=snapshot.error_kind is None and all(c.ok for c in checks),
            error_kind=snapshot.error_kind,
            error=snapshot.error,
            status_code=snapshot.status_code,
            final_url=snapshot.final_url,
            redirects=snapshot.redirects,
            body_bytes=len(snapshot.body),
            body_truncated=snapshot.body_truncated,
            checks=checks,
            timings=snapshot.timings,
            tls=snapshot.tls,
            started_at=started_at,
            finished_at=finished_at,
        )

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready result record, with exactly ``RESULT_KEYS``."""
        return {
            "target": self.target,
            "run_id": self.run_id,
            "ok": self.ok,
            "error_kind": self.error_kind,
            "error": self.error,
            "status_code": self.status_code,
            "final_url": self.final_url,
            "redirects": self.redirects,
            "body_bytes": self.body_bytes,
            "body_truncated": self.body_truncated,
            "checks": [dataclasses.asdict(c) for c in self.checks],
            "timings": dataclasses.asdict(self.timings),
            "tls": None if self.tls is None else {**dataclasses.asdict(self.tls), "sans": list(self.tls.sans)},
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat(),
        }
