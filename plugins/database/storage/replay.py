"""Writing a spool file into the database after an outage (``healthcrawl replay``, and before a resume)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from healthcrawl.plugins.database.storage.spool import RunEnd, read_spool
from healthcrawl.plugins.database.storage.store import Batch, ResultStore


@dataclass(frozen=True)
class Replayed:
    """What a replay did: results written, results already stored (skipped), and the run end recorded."""

    written: int
    skipped: int
    run_end: RunEnd | None


def replay_spool(store: ResultStore, path: Path) -> Replayed:
    """Insert every batch of the spool not stored yet, record the run's end if the spool has it,
    then delete the spool file. Safe to repeat: rows stored already are skipped, one by one."""
    written = skipped = 0
    run_end = None
    for entry in read_spool(path):
        if isinstance(entry, Batch):
            stored = store.count_stored(entry)
            store.insert(entry)
            written += len(entry) - stored
            skipped += stored
        else:
            run_end = entry
    if run_end is not None:
        store.finish_run(run_end.run_id, run_end.state, run_end.finished_at)
    Path(path).unlink()
    return Replayed(written, skipped, run_end)
