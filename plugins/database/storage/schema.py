"""The database schema: one row per run, one per result, one per check outcome.

Check outcomes have their own table so that "which targets failed tls_expiry"
is a plain join::

    SELECT r.target FROM results r
    JOIN check_outcomes c ON c.run_id = r.run_id AND c.seq = r.seq
    WHERE c.name = 'tls_expiry' AND NOT c.ok

Changes to these classes need a migration in ``migrations/versions`` (see ``migrations.py``).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Float, Index, Integer, String, Text
from sqlalchemy.dialects import mysql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Timestamp = DateTime(timezone=True).with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")
"""A timezone-aware timestamp, to the microsecond on every database."""


SOURCE_NUMBERING = "source"
"""``runs.numbering`` of a run whose ``results.seq`` is the target's position in the run's sources.

``NULL`` there marks a run stored before migration 0004, numbered in the order results were written."""


class Base(DeclarativeBase):
    """Declarative base of healthcrawl's tables."""


class Run(Base):
    """One crawl run."""

    __tablename__ = "runs"
    __table_args__ = (Index("ix_runs_config", "config", mysql_length={"config": 255}),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    config: Mapped[str] = mapped_column(String(1024))
    state: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    finished_at: Mapped[datetime | None] = mapped_column(Timestamp)
    targets: Mapped[int] = mapped_column(Integer, default=0)
    ok: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    settings: Mapped[dict | None] = mapped_column(JSON)
    numbering: Mapped[str | None] = mapped_column(String(16))
    """How ``results.seq`` is numbered: ``SOURCE_NUMBERING``, or ``NULL`` for a run older than that."""
    owner: Mapped[str | None] = mapped_column(String(255))
    """``HOST:PID`` of the process crawling the run (``NULL`` once it ended); see ``lease.py``."""
    lease_expires_at: Mapped[datetime | None] = mapped_column(Timestamp)
    """When the owner's lease ends unless renewed: a ``running`` run past it is stale."""


class ResultRow(Base):
    """One checked target of one run (the result record's columns, flattened)."""

    __tablename__ = "results"
    __table_args__ = (Index("ix_results_run_target", "run_id", "target", mysql_length={"target": 255}),)

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    target: Mapped[str] = mapped_column(Text)
    ok: Mapped[bool] = mapped_column(Boolean)
    error_kind: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    status_code: Mapped[int | None] = mapped_column(Integer)
    final_url: Mapped[str | None] = mapped_column(Text)
    redirects: Mapped[int] = mapped_column(Integer)
    body_bytes: Mapped[int] = mapped_column(Integer)
    body_truncated: Mapped[bool] = mapped_column(Boolean)
    dns_ms: Mapped[float | None] = mapped_column(Float)
    connect_ms: Mapped[float | None] = mapped_column(Float)
    tls_ms: Mapped[float | None] = mapped_column(Float)
    ttfb_ms: Mapped[float | None] = mapped_column(Float)
    total_ms: Mapped[float | None] = mapped_column(Float)
    tls_verified: Mapped[bool | None] = mapped_column(Boolean)
    tls_days_left: Mapped[int | None] = mapped_column(Integer)
    tls_not_after: Mapped[str | None] = mapped_column(String(40))
    tls_subject: Mapped[str | None] = mapped_column(Text)
    tls_issuer: Mapped[str | None] = mapped_column(Text)
    tls_sans: Mapped[list | None] = mapped_column(JSON)
    tls_version: Mapped[str | None] = mapped_column(String(16))
    started_at: Mapped[datetime] = mapped_column(Timestamp)
    finished_at: Mapped[datetime] = mapped_column(Timestamp)
    attempts: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    """Fetches made for the target (``crawl.retries``); 1 for results stored before migration 0005."""


class CheckOutcomeRow(Base):
    """One check's verdict on one result (``run_id`` and ``seq`` name the result; written in its transaction)."""

    __tablename__ = "check_outcomes"

    run_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name: Mapped[str] = mapped_column(String(64))
    ok: Mapped[bool] = mapped_column(Boolean)
    detail: Mapped[str] = mapped_column(Text)
