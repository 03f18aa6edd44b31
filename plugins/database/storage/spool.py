"""The on-disk spool: batches that wait for the database to come back, one JSON line per batch.

A spool file belongs to one run. Besides batches it may end with a ``finish`` line
(how the run ended), so that ``healthcrawl replay`` can complete the run's record.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from healthcrawl.errors import CommandFailed
from healthcrawl.plugins.database.storage.store import Batch


@dataclass(frozen=True)
class RunEnd:
    """How a run ended, kept in the spool when the database could not be told."""

    run_id: str
    state: str
    finished_at: datetime


def spool_path(spool_dir: str | Path, run_id: str) -> Path:
    """The spool file of run ``run_id`` in ``spool_dir`` (the sink's ``spool_dir`` option): ``RUN_ID.jsonl``."""
    return Path(spool_dir) / f"{run_id}.jsonl"


class Spool:
    """Appends batches to ``path`` (created on first use) and counts what it holds."""

    def __init__(self, path: Path, max_bytes: int):
        self.path = Path(path)
        self.max_bytes = max_bytes
        self.results = 0
        self.batches = 0

    @property
    def size(self) -> int:
        """Bytes on disk (0 when the file does not exist)."""
        try:
            return self.path.stat().st_size
        except FileNotFoundError:
            return 0

    @property
    def full(self) -> bool:
        """Whether the spool has reached its size limit."""
        return self.size >= self.max_bytes

    def __bool__(self) -> bool:
        return self.path.exists()

    def append(self, batch: Batch) -> None:
        """Add a batch, durably (flushed and synced before returning)."""
        self._append({"batch": batch.to_json()})
        self.results += len(batch)
        self.batches += 1

    def append_end(self, end: RunEnd) -> None:
        """Record how the run ended."""
        self._append({"finish": {"run_id": end.run_id, "state": end.state, "finished_at": end.finished_at.isoformat()}})

    def entries(self) -> Iterator[Batch | RunEnd]:
        """What the spool holds, in the order it was added."""
        yield from read_spool(self.path)

    def remove(self) -> None:
        """Delete the file once everything in it is stored."""
        self.path.unlink(missing_ok=True)
        self.results = self.batches = 0

    def _append(self, entry: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as file:
            file.write(json.dumps(entry, separators=(",", ":")) + "\n")
            file.flush()
            os.fsync(file.fileno())


class SpoolError(CommandFailed):
    """A spool file that cannot be read; the message names the file and line."""


def read_spool(path: Path) -> Iterator[Batch | RunEnd]:
    """The batches and the run end in a spool file."""
    try:
        file = open(path, encoding="utf-8")
    except OSError as error:
        raise SpoolError(f"{path}: cannot read: {error.strerror or error}") from None
    with file:
        for number, line in enumerate(file, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                if "batch" in entry:
                    yield Batch.from_json(entry["batch"])
                else:
                    end = entry["finish"]
                    yield RunEnd(end["run_id"], end["state"], datetime.fromisoformat(end["finished_at"]))
            except (ValueError, KeyError, TypeError) as error:
                raise SpoolError(f"{path}:{number}: not a spool entry ({error})") from None
