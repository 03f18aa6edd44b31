"""The csv and sql sources: per-target fields that checks use, and rows streamed from a server-side cursor."""

import json
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, text

from healthcrawl import ConfigError
from healthcrawl.plugins.database.sql_source import SqlSource, SqlSourceOptions
from healthcrawl.plugins.database.storage.engines import open_engine
from healthcrawl.testing.crawl import records_by_target, run_crawl, run_crawl_outcome
from healthcrawl.testing.servers import HTTPTestServer, free_port


def checks_for(record):
    return {check["name"]: check["ok"] for check in record["checks"]}


def test_csv_columns_override_the_expected_status_and_body_per_target(tmp_path):
    with HTTPTestServer() as server:
        server.route("/teapot", status=418, body="short and stout")
        server.route("/health", body="all systems go")
        (tmp_path / "targets.csv").write_text(textwrap.dedent(f"""\
            url,expect_status,expect_body,owner
            {server.url('/teapot')},418,stout,kitchen
            {server.url('/health')},,systems go,ops
            {server.url('/health')}?strict=1,204,,ops
            ,200,,nobody
        """))
        records = run_crawl({
            "sources": [{"type": "csv", "path": "targets.csv", "column": "url"}],
            "checks": [{"type": "status"}, {"type": "body_match", "pattern": "healthy"}],
        }, base_dir=tmp_path)
    by_target = records_by_target(records)
    assert len(records) == 3  # the row without a target is skipped
    assert checks_for(by_target[server.url("/teapot")]) == {"status": True, "body_match": True}
    assert checks_for(by_target[server.url("/health")]) == {"status": True, "body_match": True}
    strict = by_target[server.url("/health") + "?strict=1"]
    assert checks_for(strict) == {"status": False, "body_match": False}  # 204 expected; crawl-wide 'healthy'
    assert "expected 204" in next(c["detail"] for c in strict["checks"] if c["name"] == "status")


def test_csv_without_the_target_column_is_a_config_error_naming_it(tmp_path):
    (tmp_path / "targets.csv").write_text("host,owner\nexample.com,ops\n")
    with pytest.raises(ConfigError) as caught:
        run_crawl({"sources": [{"type": "csv", "path": "targets.csv"}]}, base_dir=tmp_path)
    assert caught.value.problems == [
        f"sources[0]: column 'target' is not in {tmp_path / 'targets.csv'} (its columns: host, owner)"
    ]


def make_target_table(url, server, count):
    engine = open_engine(url)
    table = Table("sites", MetaData(), Column("id", Integer, primary_key=True), Column("address", String(200)),
                  Column("expect_status", String(20)))
    table.create(engine)
    rows = [{"id": i + 1, "address": server.url(f"/n{i}"), "expect_status": "404" if i % 2 else None} for i in range(count)]
    with engine.begin() as connection:
        connection.execute(insert(table), rows)
    return engine


def test_sql_source_reads_a_table_with_per_target_fields(db_url):
    with HTTPTestServer() as server:
        engine = make_target_table(db_url, server, 40)
        engine.dispose()
        records = run_crawl({
            "crawl": {"concurrency": 10},
            "sources": [{"type": "sql", "url": db_url, "table": "sites", "column": "address", "fetch_rows": 7}],
            "checks": [{"type": "status"}],
        })
    assert len(records) == 40
    by_target = records_by_target(records)
    assert by_target[server.url("/n1")]["ok"] is True  # its expect_status column says 404
    assert by_target[server.url("/n2")]["ok"] is False  # no override: 200-399 expected, got 404


def test_sql_source_reads_a_table_in_primary_key_order_whatever_order_the_rows_are_stored_in(db_url):
    engine = open_engine(db_url)
    table = Table("hosts", MetaData(), Column("id", Integer, primary_key=True), Column("target", String(200)))
    table.create(engine)
    with engine.begin() as connection:
        for i in reversed(range(1, 51)):  # stored last-first; PostgreSQL scans a heap in the order rows went in
            connection.execute(insert(table).values(id=i, target=f"https://h{i}.example/"))
        connection.execute(table.update().where(table.c.id == 10).values(target="https://moved.example/"))
    engine.dispose()
    options = SqlSourceOptions().load({"url": db_url, "table": "hosts"})
    urls = [target.url for target in SqlSource(options).targets()]
    assert urls == [f"https://h{i}.example/" if i != 10 else "https://moved.example/" for i in range(1, 51)]


def sql_source(url, query):
    options = SqlSourceOptions().load({"url": url, "query": query})
    return SqlSource(options)


def test_sql_source_streams_a_query_through_a_server_side_cursor(pg_db_url):
    with HTTPTestServer() as server:
        make_target_table(pg_db_url, server, 3000).dispose()
        targets = sql_source(pg_db_url, "SELECT address AS target FROM sites ORDER BY id").targets()
        first = [next(targets) for _ in range(1500)]  # past the first block of rows
        watcher = open_engine(pg_db_url)
        with watcher.connect() as connection:
            fetching = connection.execute(text(
                "SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND query LIKE 'FETCH FORWARD%'"
            )).scalars().all()
        watcher.dispose()
        rest = list(targets)
    assert first[0].url == server.url("/n0") and len(rest) == 1500
    assert fetching and all(query.startswith("FETCH FORWARD 1000 ") for query in fetching)  # 1000 rows at a time


def test_a_source_that_fails_mid_crawl_fails_the_run_with_one_line(tmp_path):
    sqlite3.connect(tmp_path / "t.db").close()  # an empty database: a missing one is a config error
    outcome, records = run_crawl_outcome({
        "sources": [{"type": "list", "targets": ["http://127.0.0.1:9/"]},
                    {"type": "sql", "url": f"sqlite:///{tmp_path}/t.db", "query": "SELECT target FROM nowhere"}],
    })
    assert outcome.state == "failed" and len(records) <= 1
    assert outcome.error.startswith("source 'sql' failed: no such table: nowhere")
    assert "\n" not in outcome.error


@pytest.mark.parametrize("source", [
    {"type": "sql", "url": "sqlite:///t.db", "query": "SELEC nonsense"},
    # psycopg2 connects through gevent: the other feeder must not step into the source meanwhile
    {"type": "sql", "url": "postgresql+psycopg2://postgres@127.0.0.1:{port}/x", "table": "targets"},
])
def test_a_failing_source_with_worker_processes_ends_in_one_line_not_a_traceback(tmp_path, source):
    source = {**source, "url": source["url"].format(port=free_port())}
    sqlite3.connect(tmp_path / "t.db").close()  # an empty database: a missing one is a config error
    config = tmp_path / "crawl.yaml"
    config.write_text(json.dumps({"sources": [source], "crawl": {"workers": 2}}))
    proc = subprocess.run([sys.executable, "-m", "healthcrawl", "run", str(config)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "already executing" not in proc.stderr
    assert proc.stderr.startswith("error: source 'sql' failed: ") and len(proc.stderr.splitlines()) == 1
