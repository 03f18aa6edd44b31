"""The writer tells the executor which results every sink stored (the distributed executor acks them then)."""

from __future__ import annotations

from datetime import datetime, timezone

from healthcrawl import Result, Sink, Timings
from healthcrawl.crawl.writer import ResultWriter
from healthcrawl.testing.collector import ResultCollector


def result(seq: int) -> Result:
    now = datetime.now(timezone.utc)
    return Result(f"https://t{seq}.example/", "r", True, None, None, 200, None, 0, 0, False, (), Timings(), None, now, now, seq)


class FailingSink(Sink):
    type_name = "failing"

    def write(self, results):
        raise OSError("disk full")


def write_all(sinks, count: int) -> tuple[list[int], ResultWriter]:
    stored: list[int] = []
    writer = ResultWriter(sinks, observe=lambda r: None, batch_size=4,
                          on_stored=lambda batch: stored.extend(r.seq for r in batch))
    writer.start()
    for seq in range(count):
        writer.put(result(seq))
    writer.close()
    return stored, writer


def test_each_batch_is_reported_after_every_sink_wrote_it():
    collector = ResultCollector()
    stored, _ = write_all([collector], 10)
    assert stored == list(range(10))
    assert [r.seq for r in collector.results] == stored


def test_a_batch_a_sink_failed_on_is_not_reported_stored():
    stored, writer = write_all([ResultCollector(), FailingSink()], 10)
    assert stored == []
    assert writer.failure == "sink 'failing' failed: disk full"
