"""The prometheus sink: a node_exporter textfile and a Pushgateway push, read back with prometheus_client's parser."""

import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from healthcrawl.testing.servers import HTTPTestServer, free_port
from tests.conftest import REQUIRE_SERVICES

parser = pytest.importorskip("prometheus_client.parser", reason="pip install 'healthcrawl[prometheus]'")

PUSHGATEWAY = shutil.which("prometheus-pushgateway") or shutil.which("pushgateway")


def samples(text: str) -> dict[str, dict[tuple, float]]:
    """Metric name -> {sorted label items: value}, from Prometheus text."""
    found: dict[str, dict[tuple, float]] = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return found


def by_target(metric: dict[tuple, float]) -> dict[str, float]:
    return {dict(labels)["target"]: value for labels, value in metric.items()}


def demo_with_sink(healthcrawl_cli, folder: Path, sink_yaml: str):
    """Run a copy of the offline-demo example with one more sink; returns the command's result."""
    assert healthcrawl_cli("examples", "copy", "offline-demo", folder / "demo").exit_code == 0
    with open(folder / "demo" / "crawl.yaml", "a", encoding="utf-8") as config:
        config.write(sink_yaml)
    return healthcrawl_cli("examples", "run", folder / "demo", cwd=folder)


@pytest.fixture(scope="module")
def demo_textfile(tmp_path_factory):
    """The offline demo's textfile and database (one crawl for the module's tests)."""
    return {}


def run_demo_once(cache, tmp_path_factory, healthcrawl_cli):
    if not cache:
        folder = tmp_path_factory.mktemp("prometheus-demo")
        proc = demo_with_sink(healthcrawl_cli, folder,
                              f"  - type: prometheus\n    textfile: {folder / 'healthcrawl.prom'}\n")
        assert proc.exit_code == 0, proc.stderr
        cache.update(text=(folder / "healthcrawl.prom").read_text(), db=folder / "offline-demo.db", folder=folder)
    return cache


def test_offline_demo_textfile_parses_and_probe_success_agrees_with_the_database(
        demo_textfile, tmp_path_factory, healthcrawl_cli):
    demo = run_demo_once(demo_textfile, tmp_path_factory, healthcrawl_cli)
    metrics = samples(demo["text"])
    with sqlite3.connect(demo["db"]) as db:
        stored = dict(db.execute("SELECT target, ok FROM results"))
        statuses = dict(db.execute("SELECT target, status_code FROM results WHERE status_code IS NOT NULL"))
        kinds = dict(db.execute("SELECT target, error_kind FROM results WHERE error_kind IS NOT NULL"))
    assert len(stored) == 7
    assert by_target(metrics["probe_success"]) == {target: float(ok) for target, ok in stored.items()}
    assert by_target(metrics["probe_http_status_code"]) == {target: float(code) for target, code in statuses.items()}
    assert {dict(labels)["target"]: dict(labels)["kind"] for labels in metrics["healthcrawl_error_kind"]} == kinds
    assert metrics["healthcrawl_targets"] == {
        (("outcome", "ok"),): 3.0, (("outcome", "failed"),): 1.0, (("outcome", "error"),): 3.0}
    broken = next(target for target in stored if target.endswith("/broken"))
    assert metrics["healthcrawl_check_success"][(("check", "status"), ("target", broken))] == 0.0
    assert not list(demo["folder"].glob("healthcrawl.prom.*")), "the temporary file was renamed over the textfile"


def test_redirects_durations_and_certificate_expiry_use_blackbox_names(demo_textfile, tmp_path_factory, healthcrawl_cli):
    metrics = samples(run_demo_once(demo_textfile, tmp_path_factory, healthcrawl_cli)["text"])
    redirects = by_target(metrics["probe_http_redirects"])
    assert [value for target, value in redirects.items() if target.endswith("/old-health")] == [1.0]
    phases = {dict(labels)["phase"] for labels in metrics["probe_http_duration_seconds"]}
    assert phases == {"connect", "tls"}  # the demo's targets are IP addresses: no DNS lookup
    expiries = by_target(metrics["probe_ssl_earliest_cert_expiry"])
    assert len(expiries) == 2
    assert min(expiries.values()) < time.time(), "the demo's expired certificate has an expiry in the past"
    assert metrics["healthcrawl_phase_duration_seconds_count"][(("phase", "total"),)] == 7.0


def test_aggregate_only_writes_no_series_per_target(tmp_path, healthcrawl_cli):
    proc = demo_with_sink(healthcrawl_cli, tmp_path,
                          f"  - type: prometheus\n    textfile: {tmp_path / 'totals.prom'}\n    aggregate_only: true\n")
    assert proc.exit_code == 0, proc.stderr
    metrics = samples((tmp_path / "totals.prom").read_text())
    assert not [name for name, series in metrics.items() for labels in series if "target" in dict(labels)]
    assert "probe_success" not in metrics
    assert sum(metrics["healthcrawl_targets"].values()) == 7.0
    assert metrics["healthcrawl_errors"][(("kind", "timeout"),)] == 1.0
    assert metrics["healthcrawl_cert_days_left_bucket"][(("le", "0.0"),)] == 1.0  # the expired certificate


def test_push_to_a_loopback_server_sends_parseable_metrics(tmp_path, healthcrawl_cli):
    with HTTPTestServer() as gateway:
        gateway.route("/metrics/job/nightly", body=b"")
        proc = demo_with_sink(healthcrawl_cli, tmp_path,
                              f"  - type: prometheus\n    pushgateway: {gateway.base_url}\n    job: nightly\n")
        assert proc.exit_code == 0, proc.stderr
        pushes = [request for request in gateway.requests if request.path == "/metrics/job/nightly"]
    assert [request.method for request in pushes] == ["PUT"]  # replaces the job's group
    metrics = samples(pushes[0].body.decode())
    assert sorted(by_target(metrics["probe_success"]).values()) == [0.0] * 4 + [1.0] * 3


@pytest.fixture
def pushgateway(tmp_path):
    """A real Pushgateway (Debian's prometheus-pushgateway) on a free loopback port."""
    if PUSHGATEWAY is None:
        message = "prometheus-pushgateway is not installed (apt-get install prometheus-pushgateway)"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message}; HEALTHCRAWL_REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)
    port = free_port()
    process = subprocess.Popen([PUSHGATEWAY, f"--web.listen-address=127.0.0.1:{port}"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):  # up to about 30 s for it to answer
            try:
                if requests.get(f"{url}/-/ready", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
        else:
            pytest.fail(f"the Pushgateway did not start: {process.stderr.read1().decode(errors='replace')}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_push_to_a_real_pushgateway(pushgateway, tmp_path, healthcrawl_cli):
    proc = demo_with_sink(healthcrawl_cli, tmp_path, f"  - type: prometheus\n    pushgateway: {pushgateway}\n")
    assert proc.exit_code == 0, proc.stderr
    metrics = samples(requests.get(f"{pushgateway}/metrics", timeout=10).text)
    success = {dict(labels)["target"]: (dict(labels)["job"], value) for labels, value in metrics["probe_success"].items()}
    assert len(success) == 7 and {job for job, _ in success.values()} == {"healthcrawl"}
    assert sorted(value for _, value in success.values()) == [0.0] * 4 + [1.0] * 3


@pytest.mark.parametrize("options, message", [
    ("", "give textfile, pushgateway or both"),
    ("    textfile: metrics.txt\n", "must end in .prom"),
    ("    pushgateway: 127.0.0.1:9091\n", "must be an http:// or https:// URL"),
    ("    textfile: no-such-folder/m.prom\n", "the folder of textfile 'no-such-folder/m.prom' does not exist"),
])
def test_bad_options_are_one_line_config_errors(options, message, tmp_path, healthcrawl_cli):
    config = tmp_path / "crawl.yaml"
    config.write_text(f"sources: [{{type: list, targets: [example.invalid]}}]\nsinks:\n  - type: prometheus\n{options}")
    proc = healthcrawl_cli("run", config, cwd=tmp_path)
    assert proc.exit_code == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_without_prometheus_client_the_error_says_what_to_install(tmp_path, healthcrawl_cli, monkeypatch):
    monkeypatch.delitem(sys.modules, "healthcrawl.plugins.prometheus.metrics", raising=False)
    for name in [name for name in sys.modules if name.split(".")[0] == "prometheus_client"]:
        monkeypatch.setitem(sys.modules, name, None)  # importing it fails as if it were not installed
    config = tmp_path / "crawl.yaml"
    config.write_text("sources: [{type: list, targets: [example.invalid]}]\n"
                      f"sinks: [{{type: prometheus, textfile: {tmp_path / 'm.prom'}}}]\n")
    proc = healthcrawl_cli("run", config, cwd=tmp_path)
    assert proc.exit_code == 2
    assert "pip install 'healthcrawl[prometheus]'" in proc.stderr


def test_an_unreachable_pushgateway_fails_the_run_in_one_line_after_writing_the_textfile(tmp_path, healthcrawl_cli):
    closed = f"http://127.0.0.1:{free_port()}"
    proc = demo_with_sink(healthcrawl_cli, tmp_path, f"  - type: prometheus\n    textfile: {tmp_path / 'm.prom'}\n"
                                                     f"    pushgateway: {closed}\n    push_timeout: 5\n")
    assert proc.exit_code == 1
    assert "sink 'prometheus' failed" in proc.stderr and "Traceback" not in proc.stderr
    assert len(by_target(samples((tmp_path / "m.prom").read_text())["probe_success"])) == 7
