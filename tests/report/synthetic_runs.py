"""Synthetic stored runs for the report tests: most targets pass, some fail checks, some end with each error kind."""

import random
from datetime import datetime, timedelta

from healthcrawl import ERROR_KINDS, CheckOutcome, Result, RunInfo, Timings, TlsInfo
from healthcrawl.plugins.database.storage.store import ResultStore

BATCH = 5_000


def store_run(store: ResultStore, run_id: str, started_at: datetime, rng: random.Random, targets: int) -> None:
    """Store a completed run of ``targets`` results (config ``big.yaml``) drawn from ``rng``."""
    store.start_run(RunInfo(run_id, "big.yaml", started_at, settings=None))
    batch = []
    for seq in range(targets):
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
        if len(batch) == BATCH:
            store.insert(store.batch(batch))
            batch = []
    if batch:
        store.insert(store.batch(batch))
    store.finish_run(run_id, "completed", started_at + timedelta(minutes=10))
