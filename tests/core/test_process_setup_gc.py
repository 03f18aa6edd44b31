"""prepare_process keeps the garbage collector's cost per target flat as crawl.concurrency grows."""

import gc

import pytest

from healthcrawl import build_config
from healthcrawl.process_setup import prepare_process


@pytest.fixture
def restored_gc():
    threshold = gc.get_threshold()
    yield
    gc.set_threshold(*threshold)
    gc.unfreeze()


def settings(concurrency: int):
    return build_config({"crawl": {"concurrency": concurrency}, "sources": [{"type": "list", "targets": []}]}).settings


def test_the_young_generation_threshold_grows_with_the_number_in_flight(restored_gc):
    gc.set_threshold(700, 10, 10)
    prepare_process(settings(10_000))
    assert gc.get_threshold()[0] >= 10_000 * 700 // 256 > 700
    assert gc.get_threshold()[1:] == (10, 10)


def test_a_small_crawl_keeps_pythons_default(restored_gc):
    gc.set_threshold(700, 10, 10)
    prepare_process(settings(16))
    assert gc.get_threshold() == (700, 10, 10)
