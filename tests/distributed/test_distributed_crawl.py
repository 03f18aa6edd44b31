"""Distributed crawls on real ``healthcrawl worker`` processes and a real RabbitMQ: exactly one result per target."""

from __future__ import annotations

import sqlite3

import pytest

from healthcrawl.testing.crawl import run_crawl_outcome
from healthcrawl.testing.servers import HTTPTestServer

pytestmark = pytest.mark.slow


@pytest.fixture
def server():
    with HTTPTestServer() as srv:
        srv.route("/missing", status=404, body="gone")
        yield srv


def target_lines(server: HTTPTestServer, count: int) -> list[str]:
    """``count`` targets: mostly healthy, every 10th a 404, every 50th not a URL at all."""
    lines = []
    for i in range(count):
        if i % 50 == 49:
            lines.append(f"not a url {i}")
        elif i % 10 == 9:
            lines.append(server.url(f"/missing?i={i}"))
        else:
            lines.append(server.url(f"/?i={i}"))
    return lines


def crawl_config(targets: list[str], broker: str | None = None, sinks: list | None = None, **distributed) -> dict:
    crawl = {"concurrency": 50, "timeout": 10}
    if broker is not None:
        crawl["distributed"] = {"broker": broker, "chunk_size": 100, **distributed}
    return {
        "crawl": crawl,
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "status"}],
        "sinks": sinks or [],
    }


def stored_counts(db_path) -> tuple[int, int]:
    """(rows, distinct sequence numbers) in the results table."""
    with sqlite3.connect(db_path) as db:
        return db.execute("SELECT COUNT(*), COUNT(DISTINCT seq) FROM results").fetchone()


def test_two_workers_store_one_row_per_target_and_the_local_summary(broker, start_workers, server, tmp_path):
    targets = target_lines(server, 3000)
    start_workers(2)
    db = tmp_path / "results.db"
    sinks = [{"type": "sqlalchemy", "url": f"sqlite:///{db}"}]

    outcome, records = run_crawl_outcome(crawl_config(targets, broker, sinks))
    local, local_records = run_crawl_outcome(crawl_config(targets))

    assert outcome.state == "completed", outcome.error
    assert stored_counts(db) == (3000, 3000)
    assert sorted(r["seq"] for r in records) == list(range(3000))
    assert outcome.summary.render().split("slowest")[0] == local.summary.render().split("slowest")[0]
    by_seq = {r["seq"]: r for r in records}
    assert by_seq[9]["status_code"] == 404 and by_seq[49]["error_kind"] == "invalid_target"
    assert by_seq[0]["ok"] and by_seq[0]["checks"] == [{"name": "status", "ok": True, "detail": "status 200"}]
