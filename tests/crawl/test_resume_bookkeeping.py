"""Resume and deduplication bookkeeping: the SeqSet bitmap at its boundaries, and the Resume record.

``python mutation/run.py framework/crawl/sequence.py framework/crawl/resume.py`` runs these with
tests/crawl/test_sequence.py; each test here kills mutants those missed.
"""

import dataclasses
from datetime import datetime, timezone

import pytest

from healthcrawl import Resume, SeqSet


@pytest.mark.parametrize("seq", [0, 7, 8, 15, 16, 1000])
def test_each_number_is_its_own_bit(seq):
    done = SeqSet([seq])
    assert seq in done and len(done) == 1
    assert all(other not in done for other in range(max(seq - 9, 0), seq + 10) if other != seq)


def test_membership_past_the_end_of_the_bitmap_is_false():
    done = SeqSet([0])  # a bitmap of one byte: numbers 0 to 7
    assert 7 not in done and 8 not in done and 1_000_000 not in done


def test_the_bitmap_grows_to_the_largest_number_or_doubles():
    done = SeqSet()
    done.add(100)
    assert len(done._bits) == 13  # 100 // 8 + 1: exactly what the largest number needs
    done.add(1000)
    assert len(done._bits) == 126
    done.add(1008)  # one byte more than there is: doubles (amortised growth)
    assert len(done._bits) == 252
    done.add(2015)  # fits
    assert len(done._bits) == 252


def test_numbers_added_in_order_cost_at_most_twice_a_bit_each():
    done = SeqSet(range(80_000))
    assert len(done) == 80_000 and all(seq in done for seq in (0, 39_999, 79_999)) and 80_000 not in done
    assert 10_000 <= len(done._bits) <= 20_000


def test_add_tells_a_new_number_from_a_duplicate_without_counting_it_twice():
    done = SeqSet()
    assert [done.add(seq) for seq in (3, 11, 3, 11, 4)] == [True, True, False, False, True]
    assert len(done) == 3
    assert len(SeqSet([5, 5, 5])) == 1


def test_a_resume_record_is_immutable():
    resume = Resume("r1", datetime(2026, 1, 1, tzinfo=timezone.utc), SeqSet([1]))
    with pytest.raises(dataclasses.FrozenInstanceError):
        resume.run_id = "r2"
    assert (resume.run_id, 1 in resume.done) == ("r1", True)
