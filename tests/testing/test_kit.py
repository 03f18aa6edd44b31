"""What plugin tests import from ``healthcrawl.testing``: the in-process crawl helpers and the result collector."""

import pytest

import healthcrawl.testing
from healthcrawl.testing import ResultCollector, records_by_target, run_crawl, run_crawl_outcome


def test_a_crawl_in_process_gives_records_an_outcome_and_collected_results(http_server):
    healthy, missing = http_server.url("/"), http_server.url("/missing")
    config = {"sources": [{"type": "list", "targets": [healthy, missing]}], "checks": [{"type": "status"}]}
    collector = ResultCollector()
    outcome, records = run_crawl_outcome(config, extra_sinks=[collector])
    assert outcome.state == "completed" and (outcome.summary.total, outcome.summary.ok) == (2, 1)
    by_target = records_by_target(records)
    assert by_target[healthy]["ok"] is True and by_target[missing]["status_code"] == 404
    assert sorted(result.target for result in collector.results) == sorted(by_target)
    assert collector.records() == records
    assert records_by_target(run_crawl(config)).keys() == by_target.keys()


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="has no attribute 'crawl_it'"):
        healthcrawl.testing.crawl_it  # noqa: B018
