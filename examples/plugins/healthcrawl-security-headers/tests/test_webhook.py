"""The webhook sink against a real recording HTTP server on loopback."""

import json
import logging

from healthcrawl.testing.crawl import run_crawl
from healthcrawl.testing.servers import HTTPTestServer, free_port


def crawl(targets, webhook_url, **options):
    config = {
        "crawl": {"timeout": 5, "concurrency": 8},
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "status"}],
        "sinks": [{"type": "webhook", "url": webhook_url, "backoff": 0.01, **options}],
    }
    return run_crawl(config)


def posted(hook):
    return [json.loads(request.body) for request in hook.requests if request.method == "POST"]


def test_each_failed_result_is_posted_once_as_its_json_record():
    with HTTPTestServer() as site, HTTPTestServer() as hook:
        site.route("/down", status=503)
        hook.route("/hook", status=204, body=b"")
        refused = f"http://127.0.0.1:{free_port()}/"
        records = crawl([site.url("/"), site.url("/down"), refused], hook.url("/hook"),
                        headers={"Authorization": "Bearer s3cret"})
    failed = {r["target"]: r for r in records if not r["ok"]}
    bodies = posted(hook)
    assert sorted(b["target"] for b in bodies) == sorted(failed) == sorted([site.url("/down"), refused])
    for body in bodies:
        assert body == failed[body["target"]], "the POST body is the result record itself"
    assert all(r.headers["Authorization"] == "Bearer s3cret" for r in hook.requests)
    assert all(r.headers["Content-Type"] == "application/json" for r in hook.requests)


def test_a_busy_webhook_is_retried_until_it_accepts():
    with HTTPTestServer() as site, HTTPTestServer() as hook:
        site.route("/down", status=500)
        hook.route("/hook", status=204, body=b"")
        hook.route("/hook", status=503, times=2)
        crawl([site.url("/down")], hook.url("/hook"), max_attempts=3)
    assert [b["target"] for b in posted(hook)] == [site.url("/down")] * 3


def test_retries_are_bounded_and_the_crawl_completes(caplog):
    with HTTPTestServer() as site, HTTPTestServer() as hook:
        site.route("/down", status=500)
        hook.route("/hook", status=500)
        with caplog.at_level(logging.WARNING, logger="healthcrawl.webhook"):
            records = crawl([site.url("/down"), site.url("/")], hook.url("/hook"), max_attempts=3)
    assert len(records) == 2
    assert len(posted(hook)) == 3
    assert "could not deliver the result of " + site.url("/down") + ": answered 500 (after 3 tries)" in caplog.text
    assert "0 delivered, 1 not delivered" in caplog.text.replace("failed result(s) ", "")


def test_a_client_error_is_not_retried(caplog):
    with HTTPTestServer() as site, HTTPTestServer() as hook:
        site.route("/down", status=500)
        hook.route("/hook", status=401)
        crawl([site.url("/down")], hook.url("/hook"), max_attempts=4)
    assert len(posted(hook)) == 1


def test_a_dead_webhook_is_given_up_after_so_many_results_in_a_row(caplog):
    targets = [f"http://127.0.0.1:{free_port()}/{i}" for i in range(12)]
    with caplog.at_level(logging.WARNING, logger="healthcrawl.webhook"):
        records = crawl(targets, f"http://127.0.0.1:{free_port()}/hook", max_attempts=2, give_up_after=3, concurrency=1)
    assert len(records) == 12
    assert caplog.text.count("could not deliver the result of") == 3
    assert "0 delivered, 12 not delivered" in caplog.text.replace("failed result(s) ", "")


def test_a_webhook_that_never_answers_times_out(caplog):
    with HTTPTestServer() as site, HTTPTestServer() as hook:
        site.route("/down", status=500)
        hook.route("/hook", delay=30)
        with caplog.at_level(logging.WARNING, logger="healthcrawl.webhook"):
            crawl([site.url("/down")], hook.url("/hook"), max_attempts=2, timeout=0.2)
    assert "_PostTimedOut: no answer within 0.2 s (after 2 tries)" in caplog.text
