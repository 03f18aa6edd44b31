"""The report of a 100,000-target run stays small and draws in a browser (its data is aggregated in SQL)."""

import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine

from healthcrawl import CheckOutcome, ERROR_KINDS, Result, RunInfo, Timings, TlsInfo
from healthcrawl.plugins.database.report import write_report
from healthcrawl.plugins.database.report.data import FAILING_ROWS
from healthcrawl.plugins.database.storage.store import ResultStore
from tests.report.test_report import CHART_IDS, chart_specs, chromium, drawn_marks  # noqa: F401 (a fixture)

pytest.importorskip("vl_convert", reason="pip install 'healthcrawl[report]'")

TARGETS = 100_000
MAX_BYTES = 10_000_000


def synthetic_run(store: ResultStore, run_id: str, started_at: datetime, rng: random.Random) -> None:
    """Store a run of ``TARGETS`` results: most pass, some fail checks, some end with every kind of error."""
    store.start_run(RunInfo(run_id, "big.yaml", started_at, settings=None))
    batch = []
    for seq in range(TARGETS):
        draw = rng.random()
        error_kind = rng.choice(ERROR_KINDS) if draw < 0.08 else None
        checks = () if error_kind else (CheckOutcome("status", draw > 0.12, "status 500, expected 200-399"),
                                        CheckOutcome("tls_expiry", draw > 0.10, "expires in 3 days"))
        days = rng.randint(-30, 400)
        batch.append(Result(
            target=f"https://site-{seq}.example/", run_id=run_id, ok=error_kind is None and all(c.ok for c in checks),
            error_kind=error_kind, error="synthetic failure" if error_kind else None,
            status_code=None if error_kind else rng.choice((200, 200, 200, 301, 404, 500)),
            final_url=None, redirects=0, body_bytes=1000, body_truncated=False, checks=checks,
            timings=Timings(*(round(rng.lognormvariate(mu, 1.0), 3) for mu in (1.0, 2.5, 3.0, 4.5, 5.0))),
            tls=TlsInfo(True, days, (started_at + timedelta(days=days)).isoformat(), "CN=x", "CN=ca", (), "TLSv1.3"),
            started_at=started_at, finished_at=started_at, seq=seq,
        ))
        if len(batch) == 5_000:
            store.insert(store.batch(batch))
            batch = []
    store.finish_run(run_id, "completed", started_at + timedelta(minutes=10))


@pytest.mark.slow
def test_a_100000_target_run_gives_a_report_under_10_mb_that_draws(tmp_path, chromium):  # noqa: F811
    seed = random.randrange(2**32)
    print(f"seed {seed}")
    rng = random.Random(seed)
    engine = create_engine(f"sqlite:///{tmp_path / 'big.db'}")
    store = ResultStore(engine)
    store.prepare()
    now = datetime.now(timezone.utc)
    synthetic_run(store, "a" * 32, now - timedelta(days=1), rng)
    synthetic_run(store, "b" * 32, now, rng)

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
