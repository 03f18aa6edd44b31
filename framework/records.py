"""The records that flow through a crawl: targets, fetch snapshots, check outcomes and results.

``Result`` is the one shape of a finished target: its fields, in order, are the keys of the
result record (``RESULT_KEYS``) that sinks write and users read.
"""

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
    "blocked_address",
)
"""Every value that ``Result.error_kind`` may take besides ``None`` (a contract)."""


@dataclass(frozen=True)
class Target:
    """One thing to check.

    ``url`` is the normalised URL (a bare domain becomes ``https://domain/``), or the
    raw line when ``invalid`` says why it cannot be crawled. ``fields`` carries
    per-target values from the source (for example a CSV column) that checks may read.
    ``seq`` is the target's position in the run's sources (0, 1, 2, ...), set by the engine
    when it reads the target; sources leave it ``None``. ``request`` overrides parts of the
    crawl's request spec for this target (a source's ``request:`` option, credentials that
    were in the URL); it is left out of ``repr`` because it may hold secrets.
    """

    url: str
    fields: Mapping[str, Any] = field(default_factory=dict)
    invalid: str | None = None
    seq: int | None = None
    request: Mapping[str, Any] | None = field(default=None, repr=False)


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
    """What one fetch saw; checks evaluate this instead of doing their own I/O.

    ``headers`` are those of the response the checks judge; a fetch gives a mapping whose
    lookups ignore case (``headers.get("content-type")``).
    """

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
    attempts: int = 1
    """Requests made for the target (more than 1 when transient failures were retried)."""


@dataclass(frozen=True)
class CheckOutcome:
    """The verdict of one check on one snapshot."""

    name: str
    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class Result:
    """The record stored for one target; its fields, in order, are the record's keys (``RESULT_KEYS``)."""

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
    seq: int | None = None
    """The target's position in the run's sources: with ``run_id``, what identifies the result."""
    attempts: int = 1
    """How many times the target was fetched: 1, or more when transient failures were retried."""

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
            seq=snapshot.target.seq,
            attempts=snapshot.attempts,
        )

    def to_record(self) -> dict[str, Any]:
        """The JSON-ready result record: exactly ``RESULT_KEYS``, in order."""
        return {name: _jsonable(getattr(self, name)) for name in RESULT_KEYS}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> "Result":
        """The result a ``to_record()`` record describes (e.g. one that crossed a message broker)."""
        tls = record["tls"]
        return cls(**{
            **record,
            "checks": tuple(CheckOutcome(**check) for check in record["checks"]),
            "timings": Timings(**record["timings"]),
            "tls": None if tls is None else TlsInfo(**{**tls, "sans": tuple(tls["sans"])}),
            "started_at": datetime.fromisoformat(record["started_at"]),
            "finished_at": datetime.fromisoformat(record["finished_at"]),
        })


RESULT_KEYS = tuple(f.name for f in dataclasses.fields(Result))
"""The keys of a result record, in order (a contract: keys may be added, never removed)."""


def _jsonable(value: Any) -> Any:
    """A record value as JSON-ready data: dataclasses as dicts, tuples as lists, times as ISO 8601."""
    if dataclasses.is_dataclass(value):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (tuple, list)):
        return [_jsonable(item) for item in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value
