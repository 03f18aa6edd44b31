"""What crosses the broker: results as records and back, chunks, and the config digest workers check."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone

import pytest

from healthcrawl import CheckOutcome, CrawlSettings, Result, Target, Timings, TlsInfo
from healthcrawl.configuration.settings import DistributedSettings
from healthcrawl.distributed import chunks
from healthcrawl.distributed.chunks import RunSpec, chunk_message, chunk_targets
from healthcrawl.plugin_system.manager import create_plugin_manager


def a_result(**changes) -> Result:
    started = datetime(2026, 12, 1, 12, 0, 0, 123456, tzinfo=timezone.utc)
    result = Result(
        target="https://example.com/", run_id="r1", ok=False, error_kind=None, error=None, status_code=200,
        final_url="https://www.example.com/", redirects=1, body_bytes=5, body_truncated=False,
        checks=(CheckOutcome("status", True, "status 200"), CheckOutcome("tls_expiry", False, "3 days left")),
        timings=Timings(dns_ms=1.5, connect_ms=2.0, tls_ms=3.25, ttfb_ms=4.0, total_ms=10.5),
        tls=TlsInfo(True, 3, "2026-12-04T00:00:00+00:00", "CN=example.com", "CN=CA", ("example.com", "www.example.com"), "TLSv1.3"),
        started_at=started, finished_at=started.replace(second=1), seq=41,
    )
    return dataclasses.replace(result, **changes)


@pytest.mark.parametrize("result", [a_result(), a_result(tls=None, checks=(), error_kind="timeout", error="read timed out")])
def test_a_result_survives_a_trip_through_json(result):
    assert Result.from_record(json.loads(json.dumps(result.to_record()))) == result


def test_a_chunk_carries_targets_with_their_sequence_numbers_and_request_overrides():
    spec = RunSpec.build("r1", "q", CrawlSettings(), {}, [{"type": "status"}], create_plugin_manager())
    overrides = {"method": "POST", "headers": (("X-A", "1"),), "body": b"\x00\xffdata", "auth": ("basic", "u", "pw")}
    targets = [Target("https://a.example/", {"team": "x"}, None, 7, overrides), Target("not a url", {}, "no host", 8)]
    message = json.loads(json.dumps(chunk_message(spec, 3, targets)))
    assert message["chunk"] == 3
    assert chunk_targets(message) == targets
    assert RunSpec(**message["run"]) == spec


def test_the_broker_url_never_reaches_the_workers_and_the_settings_arrive_whole():
    entry = {"concurrency": 32, "request": {"method": "HEAD", "headers": {"X-Team": "ops"}},
             "retries": {"attempts": 2}, "distributed": {"broker": "amqp://u:secret@mq/hc"}}
    settings = CrawlSettings(distributed=DistributedSettings(broker="amqp://u:secret@mq/hc"))
    spec = RunSpec.build("r1", "q", settings, entry, [], create_plugin_manager())
    shipped = RunSpec(**json.loads(json.dumps(dataclasses.asdict(spec))))
    assert "secret" not in json.dumps(dataclasses.asdict(spec))
    loaded = shipped.settings()
    assert (loaded.concurrency, loaded.request.method, loaded.retries.attempts) == (32, "HEAD", 2)
    assert dict(loaded.request.headers)["X-Team"] == "ops"


def test_a_worker_accepts_the_config_of_its_own_setup():
    manager = create_plugin_manager()
    spec = RunSpec.build("r1", "q", CrawlSettings(), {}, [{"type": "status"}], manager)
    assert spec.refusal(manager) is None


def test_a_worker_names_what_differs(monkeypatch):
    coordinator = create_plugin_manager()
    spec = RunSpec.build("r1", "q", CrawlSettings(), {}, [{"type": "status"}], coordinator)
    monkeypatch.setenv("HEALTHCRAWL_DISABLE_PLUGINS", "healthcrawl.plugins.sinks.jsonl")
    assert spec.refusal(create_plugin_manager()) == "plugins missing here: healthcrawl.plugins.sinks.jsonl"
    monkeypatch.delenv("HEALTHCRAWL_DISABLE_PLUGINS")

    tampered = dataclasses.replace(spec, checks=[{"type": "status", "expect": [500]}])
    assert tampered.refusal(coordinator) == "the config digest differs (settings or check options changed on the way)"

    monkeypatch.setattr(chunks, "__version__", "9.9")
    assert spec.refusal(coordinator) == f"healthcrawl 9.9 here, the run needs {spec.version}"
