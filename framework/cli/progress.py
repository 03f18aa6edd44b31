"""A one-line progress bar for ``healthcrawl run`` on a terminal: done/total, rate, ETA, ok and failed."""

from __future__ import annotations

import time
from typing import TextIO

from healthcrawl.plugin_system.components import RunInfo, Sink
from healthcrawl.records import Result
from healthcrawl.summary import Summary

REDRAW_INTERVAL = 0.25
BAR_WIDTH = 24


class ProgressBar(Sink):
    """Redraws one line on ``stream`` as results are written; ``total`` is ``None`` when the sources cannot tell."""

    type_name = "progress"

    def __init__(self, stream: TextIO, total: int | None = None):
        super().__init__()
        self.stream = stream
        self.total = total
        self.done = self.ok = 0
        self._started = time.monotonic()
        self._drawn_at = 0.0

    def open(self, run: RunInfo) -> None:
        self._started = time.monotonic()

    def write(self, results: list[Result]) -> None:
        self.done += len(results)
        self.ok += sum(1 for result in results if result.ok)
        now = time.monotonic()
        if now - self._drawn_at >= REDRAW_INTERVAL:
            self._draw(now)

    def close(self, run: RunInfo, summary: Summary, state: str) -> None:
        self._draw(time.monotonic())
        self.stream.write("\n")
        self.stream.flush()

    def line(self, now: float) -> str:
        """The progress line as it would be drawn at ``now`` (a ``time.monotonic()`` value)."""
        elapsed = max(now - self._started, 1e-9)
        rate = self.done / elapsed
        counts = f"{rate:,.0f}/s  ok {self.ok:,}  failed {self.done - self.ok:,}"
        if not self.total:
            return f"{self.done:,} checked  {counts}"
        fraction = min(self.done / self.total, 1.0)
        filled = int(fraction * BAR_WIDTH)
        eta = (self.total - self.done) / rate if rate > 0 else None
        eta_text = "--:--" if eta is None else _clock(eta)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        return f"[{bar}] {self.done:,}/{self.total:,} {fraction:4.0%}  {counts}  ETA {eta_text}"

    def _draw(self, now: float) -> None:
        self._drawn_at = now
        self.stream.write("\r\x1b[K" + self.line(now))
        self.stream.flush()


def _clock(seconds: float) -> str:
    minutes, seconds = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"
