"""The on-disk spool: batches that wait for the database to come back, one JSON line per batch.

A spool file belongs to one run and one process (its name holds the run id, the host and
the pid), so two processes of a run never write the same file. Besides batches it may end
with a ``finish`` line (how the run ended), so that ``healthcrawl replay`` can complete the
run's record. Each entry is written with one ``write`` and synced; one that cannot be written
whole (a full disk) is cut off again. A last line without its newline (a crash mid-write) is
a *torn tail*: reading reports it and skips it (its results are fetched again by ``--resume``).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Iterator

from healthcrawl.errors import CommandFailed, one_line
from healthcrawl.plugins.database.storage.store import Batch

log = logging.getLogger("healthcrawl")


@dataclass(frozen=True)
class RunEnd:
    """How a run ended, kept in the spool when the database could not be told."""

    run_id: str
    state: str
    finished_at: datetime


def spool_path(spool_dir: str | Path, run_id: str) -> Path:
    """A new spool file for this process's part of run ``run_id`` in ``spool_dir`` (the sink's ``spool_dir``
    option): ``RUN_ID.HOST.PID.TOKEN.jsonl`` (the random token keeps a reused pid from sharing a file)."""
    host = "".join(c if c.isalnum() or c in "-_" else "_" for c in socket.gethostname()) or "host"
    return Path(spool_dir) / f"{run_id}.{host}.{os.getpid()}.{secrets.token_hex(3)}.jsonl"


def run_spools(spool_dir: str | Path, run_id: str) -> list[Path]:
    """Every spool file of run ``run_id`` in ``spool_dir``, whichever process wrote it, oldest first
    (``RUN_ID.jsonl`` of older healthcrawl versions included)."""
    folder = Path(spool_dir)
    found = [path for path in folder.glob(f"{run_id}.*jsonl") if path.name.split(".", 1)[0] == run_id]
    return sorted(found, key=lambda path: (path.stat().st_mtime, path.name))


class SpoolWriteError(CommandFailed):
    """An entry could not be added to the spool (a full disk, say); the message names the file."""


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
        """Write ``entry`` as one line, whole or not at all (a partial write is cut off again)."""
        line = (json.dumps(entry, separators=(",", ":")) + "\n").encode("utf-8")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as error:
            raise SpoolWriteError(f"cannot write the spool {self.path}: {error.strerror or error}") from None
        try:
            start = os.fstat(descriptor).st_size
            try:
                view = memoryview(line)
                while view:
                    view = view[os.write(descriptor, view):]
                os.fsync(descriptor)
            except OSError as error:
                _cut(descriptor, start)
                raise SpoolWriteError(f"cannot write the spool {self.path}: {error.strerror or error}") from None
        finally:
            os.close(descriptor)


def _cut(descriptor: int, size: int) -> None:
    try:
        os.ftruncate(descriptor, size)
    except OSError:
        pass  # the torn line stays: reading skips a torn tail


class SpoolError(CommandFailed):
    """A spool file that cannot be read; the message names the file and line."""


def read_spool(path: Path) -> Iterator[Batch | RunEnd]:
    """The batches and the run end in a spool file; a torn last line is reported (a warning) and skipped."""
    try:
        file = open(path, "rb")  # decoded line by line: a torn tail may end inside a character
    except OSError as error:
        raise SpoolError(f"{path}: cannot read: {error.strerror or error}") from None
    with file:
        for number, line in enumerate(file, 1):
            if not line.endswith(b"\n"):
                log.warning(
                    "%s:%d: the last entry is torn (the process stopped or the disk filled while writing it): "
                    "skipped; its results are fetched again when the run is resumed", path, number,
                )
                return
            if not line.strip():
                continue
            try:
                entry = json.loads(line.decode("utf-8"))
                if "batch" in entry:
                    yield Batch.from_json(entry["batch"])
                else:
                    end = entry["finish"]
                    yield RunEnd(end["run_id"], end["state"], datetime.fromisoformat(end["finished_at"]))
            except (ValueError, KeyError, TypeError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
                raise SpoolError(f"{path}:{number}: not a spool entry ({one_line(error)})") from None
