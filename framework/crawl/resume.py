"""Continuing an interrupted run: what it is and which of its targets already have a result."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from healthcrawl.crawl.sequence import SeqSet


@dataclass(frozen=True)
class Resume:
    """An earlier run to continue: its id, when it started, and the sequence numbers it has results for."""

    run_id: str
    started_at: datetime
    done: SeqSet
