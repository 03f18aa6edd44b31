"""Distributed crawls on real ``healthcrawl worker`` processes and a real RabbitMQ: exactly one result per target."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy

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


def stored_counts(url: str, run_id: str) -> tuple[int, int]:
    """(rows, distinct sequence numbers) of the run in the results table."""
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.connect() as connection:
            query = sqlalchemy.text("SELECT COUNT(*), COUNT(DISTINCT seq) FROM results WHERE run_id = :run")
            return tuple(connection.execute(query, {"run": run_id}).one())
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path):
    """A results database of this test's own: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'results.db'}"
        return
    schema = f"hc_distributed_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(request.getfixturevalue("postgres_url"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sqlalchemy.text(f"CREATE SCHEMA {schema}"))
    try:
        yield admin.url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sqlalchemy.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


TARGETS = 5000


def test_two_workers_store_one_row_per_target_and_the_local_summary(broker, start_workers, server, database_url):
    targets = target_lines(server, TARGETS)
    start_workers(2)
    sinks = [{"type": "sqlalchemy", "url": database_url}]

    outcome, records = run_crawl_outcome(crawl_config(targets, broker, sinks))
    local, local_records = run_crawl_outcome(crawl_config(targets))

    assert outcome.state == "completed", outcome.error
    assert stored_counts(database_url, outcome.run.run_id) == (TARGETS, TARGETS)
    assert sorted(r["seq"] for r in records) == list(range(TARGETS))
    assert outcome.summary.render().split("slowest")[0] == local.summary.render().split("slowest")[0]
    by_seq = {r["seq"]: r for r in records}
    assert by_seq[9]["status_code"] == 404 and by_seq[49]["error_kind"] == "invalid_target"
    assert by_seq[0]["ok"] and by_seq[0]["checks"] == [{"name": "status", "ok": True, "detail": "status 200"}]
