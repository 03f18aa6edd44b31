"""Fuzzing spool reading: whatever bytes a spool file holds, reading it gives its entries, reports a torn last
line, or raises ``SpoolError`` naming the file and line; nothing else. Entries written whole are read back."""

import logging
import tempfile
from datetime import datetime, timezone
from pathlib import Path

from hypothesis import example, given
from hypothesis import strategies as st

from healthcrawl.plugins.database.storage.spool import RunEnd, Spool, SpoolError, read_spool
from healthcrawl.plugins.database.storage.store import Batch

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
batches = st.builds(
    lambda run_id, targets: Batch(
        run_id,
        [{"run_id": run_id, "seq": seq, "target": target, "started_at": AT, "finished_at": AT}
         for seq, target in enumerate(targets)],
        [],
    ),
    st.text(min_size=1, max_size=8),
    st.lists(st.text(max_size=30), max_size=3),
)
entries = st.one_of(batches, st.builds(RunEnd, st.text(max_size=8), st.sampled_from(["completed", "failed"]), st.just(AT)))
spool_like_lines = st.sampled_from([b'{"batch":', b'{"finish":{}}', b'{"batch":{"run_id":"r","results":[{}],"outcomes":[]}}',
                                    b"[]", b"1", b'"batch"', b"null", b"{}", b"\xff\xfe", b"\n", b"\r\n", b" "])
garbage = st.lists(st.one_of(st.binary(max_size=30), spool_like_lines), max_size=6).map(b"".join)


def read_all(path):
    """What reading ``path`` gives: its entries, or the ``SpoolError`` it raised."""
    try:
        return list(read_spool(path))
    except SpoolError as error:
        assert str(path) in str(error)
        return error


def write_spool(folder, written):
    spool = Spool(Path(folder) / "run.spool", max_bytes=2**30)
    for entry in written:
        (spool.append_end if isinstance(entry, RunEnd) else spool.append)(entry)
    return spool.path


@given(st.lists(entries, max_size=4), garbage)
@example([], b"\x80\n")  # a whole line that is not UTF-8
@example([], b"[" * 100_000 + b"\n")  # nesting deeper than json's recursion limit
def test_any_bytes_after_whole_entries_give_entries_a_torn_tail_or_a_spool_error(written, tail):
    with tempfile.TemporaryDirectory() as folder:
        path = write_spool(folder, written)
        with open(path, "ab") as file:
            file.write(tail)
        outcome = read_all(path)
    if isinstance(outcome, list):
        assert all(isinstance(entry, (Batch, RunEnd)) for entry in outcome)
        assert outcome[: len(written)] == written


@given(st.lists(entries, min_size=1, max_size=4), st.binary(max_size=200).filter(lambda b: b"\n" not in b))
@example([Batch("r", [], [])], '{"batch":{"run_id":"ü'.encode()[:-1])  # torn inside a character
def test_a_torn_last_line_is_reported_and_skipped(written, torn):
    with tempfile.TemporaryDirectory() as folder:
        path = write_spool(folder, written)
        with open(path, "ab") as file:
            file.write(torn)
        handler = _Remember()
        logging.getLogger("healthcrawl").addHandler(handler)
        try:
            outcome = read_all(path)
        finally:
            logging.getLogger("healthcrawl").removeHandler(handler)
    assert outcome == written
    assert any("torn" in message for message in handler.messages) == bool(torn)


class _Remember(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.messages = []

    def emit(self, record):
        self.messages.append(record.getMessage())
