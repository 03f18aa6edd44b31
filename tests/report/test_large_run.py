"""The report of a 100,000-target run stays small and draws in a browser (its data is aggregated in SQL)."""

import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine

from healthcrawl.plugins.database.report import write_report
from healthcrawl.plugins.database.report.data import FAILING_ROWS
from healthcrawl.plugins.database.storage.store import ResultStore
from tests.report.synthetic_runs import store_run
from tests.report.test_report import CHART_IDS, chart_specs, chromium, drawn_marks  # noqa: F401 (a fixture)

pytest.importorskip("vl_convert", reason="pip install 'healthcrawl[report]'")

TARGETS = 100_000
MAX_BYTES = 10_000_000


@pytest.mark.slow
def test_a_100000_target_run_gives_a_report_under_10_mb_that_draws(tmp_path, chromium):  # noqa: F811
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    engine = create_engine(f"sqlite:///{tmp_path / 'big.db'}")
    store = ResultStore(engine)
    store.prepare()
    now = datetime.now(timezone.utc)
    store_run(store, "a" * 32, now - timedelta(days=1), rng, TARGETS)
    store_run(store, "b" * 32, now, rng, TARGETS)

    page = tmp_path / "big.html"
    began = time.perf_counter()
    data = write_report(engine, None, page)
    print(f"report written in {time.perf_counter() - began:.1f} s: {page.stat().st_size / 1e6:.2f} MB")
    engine.dispose()
    assert data.run.id == "b" * 32 and data.previous.id == "a" * 32
    assert page.stat().st_size < MAX_BYTES
    html = page.read_text(encoding="utf-8")
    assert html.count("<tr><td class=\"num\">") == FAILING_ROWS
    assert f"The table holds the first {FAILING_ROWS:,} of {data.failing_total:,} failing targets" in html

    began = time.perf_counter()
    loaded = chromium.open_page(page)
    print(f"chromium loaded and drew it in {time.perf_counter() - began:.1f} s (virtual time, process start included)")
    assert loaded.console == []
    assert 'data-charts="drawn"' in loaded.dom
    specs = chart_specs(html)
    assert set(specs) == set(CHART_IDS)
    for chart_id in CHART_IDS:
        assert drawn_marks(loaded.dom, chart_id) > 0, chart_id
