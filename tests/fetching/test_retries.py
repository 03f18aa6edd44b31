"""crawl.retries: transient failures are fetched again, within the deadline and the per-host limits."""

import sqlite3
import time

import pytest

from healthcrawl import ConfigError, build_config, parse_target
from healthcrawl.configuration.settings import CrawlSettingsSchema
from healthcrawl.fetching.fetcher import build_fetcher
from healthcrawl.testing.crawl import run_crawl
from healthcrawl.testing.servers import HTTPTestServer, free_port


def crawl_one(url, retries, **settings):
    config = {"crawl": {"timeout": 5, "retries": retries, **settings},
              "sources": [{"type": "list", "targets": [url]}], "checks": [{"type": "status", "expect": [200]}]}
    (record,) = run_crawl(config)
    return record


def test_a_503_twice_then_200_takes_three_attempts():
    with HTTPTestServer() as server:
        server.route("/flaky", status=503, times=2)
        server.route("/flaky")
        record = crawl_one(server.url("/flaky"), {"attempts": 4, "backoff": 0})
        assert server.hits["/flaky"] == 3
    assert record["ok"] is True and record["status_code"] == 200 and record["attempts"] == 3


def test_the_database_stores_attempts(tmp_path):
    with HTTPTestServer() as server:
        server.route("/flaky", status=503, times=1)
        server.route("/flaky")
        run_crawl({"crawl": {"timeout": 5, "retries": {"attempts": 2, "backoff": 0}},
                   "sources": [{"type": "list", "targets": [server.url("/flaky"), server.url("/")]}],
                   "sinks": [{"type": "sqlalchemy", "url": f"sqlite:///{tmp_path}/results.db"}]})
    with sqlite3.connect(tmp_path / "results.db") as db:
        stored = dict(db.execute("SELECT target, attempts FROM results"))
    assert stored == {server.url("/flaky"): 2, server.url("/"): 1}


def test_attempts_run_out_and_the_last_one_is_recorded():
    with HTTPTestServer() as server:
        server.route("/down", status=503)
        record = crawl_one(server.url("/down"), {"attempts": 2, "backoff": 0})
        assert server.hits["/down"] == 2
    assert record["status_code"] == 503 and record["attempts"] == 2 and record["ok"] is False


def test_a_status_that_is_not_transient_is_not_retried():
    with HTTPTestServer() as server:
        record = crawl_one(server.url("/missing"), {"attempts": 3, "backoff": 0})
        assert server.hits["/missing"] == 1
    assert record["attempts"] == 1 and record["status_code"] == 404


def test_a_refused_connection_is_retried_and_stays_an_error():
    record = crawl_one(f"http://127.0.0.1:{free_port()}/", {"attempts": 3, "backoff": 0})
    assert record["error_kind"] == "connect_refused" and record["attempts"] == 3


def test_an_error_kind_left_out_is_not_retried():
    record = crawl_one(f"http://127.0.0.1:{free_port()}/", {"attempts": 3, "on_error_kinds": ["timeout"]})
    assert record["error_kind"] == "connect_refused" and record["attempts"] == 1


def test_retries_stop_where_the_deadline_would_be_passed():
    with HTTPTestServer() as server:
        server.route("/down", status=503)
        # Waits of 0.4, 0.8, 1.6 ... s: the third attempt would start after the 1 s deadline.
        record = crawl_one(server.url("/down"), {"attempts": 10, "backoff": 0.4}, timeout=1)
        hits = server.hits["/down"]
    assert 1 <= record["attempts"] <= 2 and hits == record["attempts"]


def test_retries_keep_the_per_host_gap_between_starts():
    settings = CrawlSettingsSchema().load({"timeout": 10, "per_host_delay": 0.2, "retries": {"attempts": 3, "backoff": 0}})
    starts = []
    with HTTPTestServer() as server:
        server.route("/down", status=503)
        fetcher = build_fetcher(settings, pool_size=4, prepare_request=lambda request: starts.append(time.monotonic()))
        try:
            snapshot = fetcher.fetch(parse_target(server.url("/down")))
        finally:
            fetcher.close()
    assert snapshot.attempts == 3 and len(starts) == 3
    assert all(later - earlier >= 0.19 for earlier, later in zip(starts, starts[1:])), starts


@pytest.mark.parametrize(
    "retries, problem",
    [
        ({"attempts": 0}, "crawl.retries.attempts: must be at least 1"),
        ({"on_error_kinds": ["flaky"]}, "crawl.retries.on_error_kinds[0]: must be one of: invalid_target"),
        ({"on_status": [999]}, "crawl.retries.on_status[0]: must be a status code (100-599)"),
    ],
)
def test_bad_retry_settings_are_config_errors(retries, problem):
    with pytest.raises(ConfigError) as raised:
        build_config({"crawl": {"retries": retries}, "sources": [{"type": "list", "targets": ["example.com"]}]})
    assert raised.value.problems[0].startswith(problem)
