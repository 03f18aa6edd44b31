"""The single writer: batch sizes, the flush of a partial batch, back-pressure and sink failures.

``python mutation/run.py framework/crawl/writer.py`` runs these; no test here asserts how fast
anything happened, only what was written in which batches.
"""

from __future__ import annotations

from datetime import datetime, timezone

import gevent
import pytest

from healthcrawl import Result, Sink, Timings
from healthcrawl.crawl.writer import ResultWriter


def result(seq: int) -> Result:
    now = datetime.now(timezone.utc)
    return Result(f"https://t{seq}.example/", "r", True, None, None, 200, None, 0, 0, False, (), Timings(), None, now, now, seq)


class BatchSink(Sink):
    """Keeps each batch it was given, as a list of sequence numbers; fails the batches listed in ``fail``."""

    type_name = "batches"

    def __init__(self, fail=()):
        super().__init__()
        self.batches: list[list[int]] = []
        self.fail = set(fail)

    def write(self, results):
        if len(self.batches) in self.fail:
            self.batches.append([])
            raise OSError(f"batch {len(self.batches) - 1} refused")
        self.batches.append([r.seq for r in results])


def wait_until(condition, timeout=10.0):
    with gevent.Timeout(timeout):
        while not condition():
            gevent.sleep(0.01)


def test_results_go_out_in_batches_of_batch_size_then_the_rest():
    sink = BatchSink()
    writer = ResultWriter([sink], observe=lambda r: None, batch_size=3)
    writer.start()
    for seq in range(7):
        writer.put(result(seq))
    writer.close()
    assert sink.batches == [[0, 1, 2], [3, 4, 5], [6]]


def test_the_default_batch_is_500_results():
    sink = BatchSink()
    writer = ResultWriter([sink], observe=lambda r: None)
    writer.start()
    for seq in range(501):
        writer.put(result(seq))
    writer.close()
    assert [len(batch) for batch in sink.batches] == [500, 1]


def test_a_partial_batch_is_written_after_flush_interval_without_closing():
    sink = BatchSink()
    writer = ResultWriter([sink], observe=lambda r: None, flush_interval=0.05)
    writer.start()
    writer.put(result(0))
    writer.put(result(1))
    wait_until(lambda: sink.batches)
    assert sink.batches == [[0, 1]]
    writer.put(result(2))
    wait_until(lambda: len(sink.batches) == 2)
    writer.close()
    assert sink.batches == [[0, 1], [2]]


def test_a_partial_batch_waits_for_more_results_by_default():
    sink = BatchSink()
    writer = ResultWriter([sink], observe=lambda r: None)
    writer.start()
    writer.put(result(0))
    gevent.sleep(0.3)  # well within the default second: a slow machine only delays the write further
    assert sink.batches == []
    writer.close()
    assert sink.batches == [[0]]


@pytest.mark.parametrize("queue_size, expected", [(2, 2), (None, 10_000)])
def test_put_waits_while_the_queue_is_full(queue_size, expected):
    """Back-pressure: ``queue_size`` results (10,000 by default) wait for the writer; the next put blocks."""
    sink = BatchSink()
    writer = ResultWriter([sink], observe=lambda r: None, **({"queue_size": queue_size} if queue_size else {}))
    for seq in range(expected):
        writer.put(result(seq))  # the writer is not started: nothing takes them
    blocked = gevent.spawn(writer.put, result(expected))
    gevent.sleep(0.05)
    assert not blocked.dead
    writer.start()
    blocked.join(timeout=10)
    assert blocked.dead and blocked.successful()
    writer.close()
    assert sum(len(batch) for batch in sink.batches) == expected + 1


def test_a_failing_sink_fails_the_run_once_and_the_other_sinks_still_get_everything():
    failures = []
    stored: list[int] = []
    failing, healthy = BatchSink(fail={0, 1}), BatchSink()
    writer = ResultWriter([failing, healthy], observe=lambda r: None, on_failure=lambda: failures.append(1),
                          batch_size=2, on_stored=lambda batch: stored.extend(r.seq for r in batch))
    writer.start()
    for seq in range(6):
        writer.put(result(seq))
    writer.close()
    assert failures == [1]
    assert writer.failure == "sink 'batches' failed: batch 0 refused"
    assert healthy.batches == [[0, 1], [2, 3], [4, 5]]
    assert stored == [4, 5]  # only the batch every sink wrote


def test_every_result_is_observed_and_counted_before_the_sinks_see_it():
    observed: list[int] = []
    sink = BatchSink()
    writer = ResultWriter([sink], observe=lambda r: observed.append(r.seq), batch_size=2)
    writer.start()
    for seq in range(3):
        writer.put(result(seq))
    writer.close()
    assert observed == [0, 1, 2] and writer.summary.total == 3 and writer.summary.ok == 3


def test_a_put_after_the_writer_died_raises_its_error():
    def observe(r):
        raise ValueError("observer broke")

    writer = ResultWriter([BatchSink()], observe=observe, batch_size=1)
    writer.start()
    writer.put(result(0))
    wait_until(lambda: writer._greenlet.dead)
    with pytest.raises(ValueError, match="observer broke"):
        writer.put(result(1))


def test_everything_after_the_sinks_is_passed_by_name():
    with pytest.raises(TypeError):
        ResultWriter([], lambda r: None)
