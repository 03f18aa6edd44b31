"""The webhook sink against a real recording HTTP server on loopback (fixtures from healthcrawl's pytest plugin).

``site`` is the server crawled; ``hook`` receives the webhook POSTs (``hook.requests`` keeps them).
"""

import json
import logging

import pytest
from healthcrawl import ConfigError
from healthcrawl.testing.servers import free_port


@pytest.fixture
def site(http_server):
    http_server.route("/down", status=500)
    return http_server


@pytest.fixture
def hook(make_server):
    server = make_server()
    server.route("/hook", status=204, body=b"")
    return server


@pytest.fixture
def crawl_to_webhook(crawl):
    """``crawl_to_webhook(targets, webhook_url, **sink_options)``: crawl with a status check into a webhook sink."""

    def run(targets, webhook_url, **options):
        return crawl({
            "crawl": {"timeout": 5, "concurrency": 8},
            "sources": [{"type": "list", "targets": targets}],
            "checks": [{"type": "status"}],
            "sinks": [{"type": "webhook", "url": webhook_url, "backoff": 0.01, **options}],
        })

    return run


def posted(hook):
    return [json.loads(request.body) for request in hook.requests if request.method == "POST"]


def test_each_failed_result_is_posted_once_as_its_json_record(site, hook, crawl_to_webhook):
    refused = f"http://127.0.0.1:{free_port()}/"
    records = crawl_to_webhook([site.url("/"), site.url("/down"), refused], hook.url("/hook"),
                               headers={"Authorization": "Bearer s3cret"})
    failed = {r["target"]: r for r in records if not r["ok"]}
    bodies = posted(hook)
    assert sorted(b["target"] for b in bodies) == sorted(failed) == sorted([site.url("/down"), refused])
    for body in bodies:
        assert body == failed[body["target"]], "the POST body is the result record itself"
    assert all(r.headers["Authorization"] == "Bearer s3cret" for r in hook.requests)
    assert all(r.headers["Content-Type"] == "application/json" for r in hook.requests)


def test_a_busy_webhook_is_retried_until_it_accepts(site, hook, crawl_to_webhook):
    hook.route("/hook", status=503, times=2)
    crawl_to_webhook([site.url("/down")], hook.url("/hook"), max_attempts=3)
    assert [b["target"] for b in posted(hook)] == [site.url("/down")] * 3


def test_retries_are_bounded_and_the_crawl_completes(site, hook, crawl_to_webhook, caplog):
    hook.route("/hook", status=500)
    with caplog.at_level(logging.WARNING, logger="healthcrawl.webhook"):
        records = crawl_to_webhook([site.url("/down"), site.url("/")], hook.url("/hook"), max_attempts=3)
    assert len(records) == 2
    assert len(posted(hook)) == 3
    assert "could not deliver the result of " + site.url("/down") + ": answered 500 (after 3 tries)" in caplog.text
    assert "0 failed result(s) delivered, 1 not delivered" in caplog.text


def test_a_client_error_is_not_retried(site, hook, crawl_to_webhook):
    hook.route("/hook", status=401)
    crawl_to_webhook([site.url("/down")], hook.url("/hook"), max_attempts=4)
    assert len(posted(hook)) == 1


def test_a_dead_webhook_is_given_up_after_so_many_results_in_a_row(crawl_to_webhook, caplog):
    targets = [f"http://127.0.0.1:{free_port()}/{i}" for i in range(12)]
    dead_webhook = f"http://127.0.0.1:{free_port()}/hook"
    with caplog.at_level(logging.WARNING, logger="healthcrawl.webhook"):
        records = crawl_to_webhook(targets, dead_webhook, max_attempts=2, give_up_after=3, concurrency=1)
    assert len(records) == 12
    assert caplog.text.count("could not deliver the result of") == 3
    assert "0 failed result(s) delivered, 12 not delivered" in caplog.text


def test_a_webhook_that_never_answers_times_out(site, hook, crawl_to_webhook, caplog):
    hook.route("/hook", delay=30)
    with caplog.at_level(logging.WARNING, logger="healthcrawl.webhook"):
        crawl_to_webhook([site.url("/down")], hook.url("/hook"), max_attempts=2, timeout=0.2)
    assert "_PostTimedOut: no answer within 0.2 s (after 2 tries)" in caplog.text


def test_bad_options_name_the_key(crawl):
    config = {"sources": [{"type": "list", "targets": ["a.example"]}],
              "sinks": [{"type": "webhook", "url": "ftp://127.0.0.1/", "max_attempts": 0}]}
    with pytest.raises(ConfigError) as caught:
        crawl(config)
    assert sorted(caught.value.problems) == ["sinks[0].max_attempts: must be 1 to 10", "sinks[0].url: not a valid URL"]
