"""``healthcrawl report``: the offline demo's report opened in headless Chromium, and a 100,000-target run's."""

import json
import re
import sqlite3
import sys
import time

import pytest

from healthcrawl.testing.servers import HTTPTestServer
from tests.conftest import REQUIRE_SERVICES
from tests.report import headless_chromium

pytest.importorskip("vl_convert", reason="pip install 'healthcrawl[report]'")

CHART_IDS = ("chart-outcomes", "chart-error-kinds", "chart-failed-checks", "chart-latency", "chart-certificates",
             "chart-slowest")


@pytest.fixture
def chromium():
    """Skips without Debian's chromium, or fails under HEALTHCRAWL_REQUIRE_SERVICES=1 (CI installs it)."""
    if headless_chromium.CHROMIUM is None:
        message = "chromium is not installed (apt-get install chromium)"
        if REQUIRE_SERVICES:
            pytest.fail(f"{message}; HEALTHCRAWL_REQUIRE_SERVICES=1 requires it")
        pytest.skip(message)
    return headless_chromium


@pytest.fixture(scope="module")
def demo_report(tmp_path_factory):
    """The offline demo's folder after two runs and a report of the second (made once for the module)."""
    return {}


def make_demo_report(cache, tmp_path_factory, healthcrawl_cli):
    if not cache:
        folder = tmp_path_factory.mktemp("report-demo")
        for _ in range(2):  # a previous run to compare with
            assert healthcrawl_cli("examples", "run", "offline-demo", cwd=folder).exit_code == 0
        proc = healthcrawl_cli("report", "--db", "sqlite:///offline-demo.db", "-o", "report.html", cwd=folder)
        assert proc.exit_code == 0, proc.stderr
        cache.update(folder=folder, page=folder / "report.html", stdout=proc.stdout)
    return cache


def chart_specs(page_html: str) -> dict:
    found = re.search(r'<script type="application/json" id="chart-specs">(.*?)</script>', page_html, re.S)
    return json.loads(found.group(1))


def drawn_marks(dom: str, chart_id: str) -> int:
    """How many marks (bars, points, rules) Vega drew as SVG inside the chart's element."""
    start = dom.index(f'id="{chart_id}"')
    end = dom.find('<div class="chart"', start + 1)
    chart = dom[start:end if end != -1 else len(dom)]
    assert "<svg" in chart, f"{chart_id}: no SVG was drawn"
    return chart.count('role="graphics-symbol"')


def data_points(spec: dict) -> int:
    return len(spec["data"]["values"])


def test_offline_demo_report_draws_every_chart_in_chromium_with_networking_off(
        chromium, demo_report, tmp_path_factory, healthcrawl_cli, tmp_path):
    report = make_demo_report(demo_report, tmp_path_factory, healthcrawl_cli)
    specs = chart_specs(report["page"].read_text(encoding="utf-8"))
    assert set(specs) == set(CHART_IDS), "the demo has data for every chart"
    screenshot = tmp_path / "offline-demo-report.png"
    with HTTPTestServer() as proxy:  # any request the page made would reach it
        page = chromium.open_page(report["page"], screenshot=screenshot, proxy=proxy.base_url)
    print(f"screenshot of the report: {screenshot}")
    assert proxy.connections == 0, f"the page made requests: {list(proxy.requests)}"
    assert page.console == [], "the page wrote to its console"
    assert 'data-charts="drawn"' in page.dom and "6 charts drawn." in page.dom
    for chart_id, spec in specs.items():
        assert drawn_marks(page.dom, chart_id) >= data_points(spec), chart_id
    assert screenshot.stat().st_size > 10_000


def test_report_shows_the_demo_s_outcomes_changes_and_failing_targets(demo_report, tmp_path_factory, healthcrawl_cli):
    report = make_demo_report(demo_report, tmp_path_factory, healthcrawl_cli)
    html = report["page"].read_text(encoding="utf-8")
    assert "report.html: report of run " in report["stdout"]
    assert re.search(r"<b>7</b>targets.*<b>3</b>ok.*<b>1</b>failed checks.*<b>3</b>errors", html, re.S)
    assert "Compared with run " in html and "healthcrawl diff " in html
    assert "All 4 failing targets." in html
    for expected in ("connect_refused", "timeout", "tls_error", "status, body_match"):
        assert expected in html
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=", html), "scripts and styles are inline"


def test_report_of_a_run_named_by_prefix_and_errors_in_one_line(demo_report, tmp_path_factory, healthcrawl_cli, tmp_path):
    report = make_demo_report(demo_report, tmp_path_factory, healthcrawl_cli)
    db = f"sqlite:///{report['folder'] / 'offline-demo.db'}"
    runs = healthcrawl_cli("runs", "--db", db).stdout.splitlines()[1:]
    older = runs[-1].split()[0]
    proc = healthcrawl_cli("report", older[:8], "--db", db, "-o", tmp_path / "older.html")
    assert proc.exit_code == 0, proc.stderr
    older_html = (tmp_path / "older.html").read_text(encoding="utf-8")
    assert f"<code>{older}</code>" in older_html and "No earlier run of this config is stored." in older_html
    unknown = healthcrawl_cli("report", "nosuchrun", "--db", db, "-o", tmp_path / "x.html")
    assert unknown.exit_code == 1 and "no run 'nosuchrun'" in unknown.stderr and "Traceback" not in unknown.stderr
    sqlite3.connect(tmp_path / "empty.db").close()  # a database without runs (a missing one is "no database at")
    empty = healthcrawl_cli("report", "--db", f"sqlite:///{tmp_path / 'empty.db'}", "-o", tmp_path / "y.html")
    assert empty.exit_code == 1 and "the database holds no runs yet" in empty.stderr
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "y.html").exists()


def test_without_vl_convert_the_error_says_what_to_install(demo_report, tmp_path_factory, healthcrawl_cli,
                                                           tmp_path, monkeypatch):
    from healthcrawl.plugins.database.report import bundle

    report = make_demo_report(demo_report, tmp_path_factory, healthcrawl_cli)
    bundle.charting_script.cache_clear()
    monkeypatch.setitem(sys.modules, "vl_convert", None)  # importing it fails as if it were not installed
    proc = healthcrawl_cli("report", "--db", f"sqlite:///{report['folder'] / 'offline-demo.db'}",
                           "-o", tmp_path / "r.html")
    bundle.charting_script.cache_clear()
    assert proc.exit_code == 1
    assert "pip install 'healthcrawl[report]'" in proc.stderr and "Traceback" not in proc.stderr
