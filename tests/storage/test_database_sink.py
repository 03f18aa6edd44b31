"""The sqlalchemy sink on real SQLite, PostgreSQL and MariaDB: rows, schema versions, batching, drivers."""

import subprocess
import sys
import textwrap

import dataclasses
from datetime import datetime

import pytest
from sqlalchemy import event, inspect, select, text

from healthcrawl.records import CheckOutcome, Result, Timings, TlsInfo
from healthcrawl.plugins.database.storage.engines import DatabaseUnavailable, open_engine
from healthcrawl.plugins.database.storage.history import list_runs
from healthcrawl.plugins.database.storage.migrations import current_revision, head_revision, upgrade_schema
from healthcrawl.plugins.database.storage.schema import CheckOutcomeRow, ResultRow, Run
from healthcrawl.plugins.database.storage.store import ResultStore
from healthcrawl.testing.crawl import run_crawl_outcome
from healthcrawl.testing.servers import HTTPTestServer, free_port


def crawl_into(url, targets, **crawl):
    config = {
        "crawl": {"concurrency": 20, "timeout": 5, **crawl},
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "status"}],
        "sinks": [{"type": "sqlalchemy", "url": url}],
    }
    return run_crawl_outcome(config)


def test_results_land_in_the_database(db_url):
    with HTTPTestServer() as server:
        refused = f"http://127.0.0.1:{free_port()}/"
        outcome, records = crawl_into(db_url, [server.url("/"), server.url("/missing"), refused])
    engine = open_engine(db_url)
    with engine.connect() as connection:
        run = connection.execute(select(Run)).one()
        rows = {row.target: row for row in connection.execute(select(ResultRow))}
        failed = connection.execute(
            select(ResultRow.target).join(CheckOutcomeRow, (CheckOutcomeRow.run_id == ResultRow.run_id)
                                          & (CheckOutcomeRow.seq == ResultRow.seq)).where(CheckOutcomeRow.ok.is_(False))
        ).scalars().all()
    engine.dispose()
    assert (run.id, run.state, run.targets, run.ok, run.failed) == (outcome.run.run_id, "completed", 3, 1, 2)
    assert set(rows) == {record["target"] for record in records}
    assert rows[server.url("/")].status_code == 200 and rows[server.url("/")].ok
    assert rows[refused].error_kind == "connect_refused" and rows[refused].total_ms is not None
    assert failed == [server.url("/missing")]
    assert sorted(row.seq for row in rows.values()) == [0, 1, 2]


def test_schema_is_created_at_the_newest_revision(db_url):
    with HTTPTestServer() as server:
        crawl_into(db_url, [server.url("/")])
    engine = open_engine(db_url)
    assert current_revision(engine) == head_revision()
    indexes = {index["name"] for index in inspect(engine).get_indexes("results")}
    engine.dispose()
    assert "ix_results_run_target" in indexes


def test_a_database_at_an_older_revision_is_upgraded_and_keeps_its_runs(db_url):
    engine = open_engine(db_url)
    upgrade_schema(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO runs (id, config, state, started_at, targets, ok, failed) "
            "VALUES ('old', 'old.yaml', 'completed', '2026-01-02 03:04:05', 7, 5, 2)"
        ))
    assert current_revision(engine) == "0001"
    with HTTPTestServer() as server:
        outcome, _ = crawl_into(db_url, [server.url("/")])
    assert current_revision(engine) == head_revision()
    runs = {run.id: run for run in list_runs(engine)}
    engine.dispose()
    assert runs["old"].targets == 7 and runs[outcome.run.run_id].state == "completed"


def test_a_database_made_before_migrations_existed_is_adopted(tmp_path):
    url = f"sqlite:///{tmp_path}/early.db"
    engine = open_engine(url)
    upgrade_schema(engine, "0001")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))  # what create_all() used to leave
    with HTTPTestServer() as server:
        outcome, _ = crawl_into(url, [server.url("/")])
    assert outcome.state == "completed" and current_revision(engine) == head_revision()
    engine.dispose()


def test_a_batch_is_written_with_a_few_multi_row_statements(db_url):
    with HTTPTestServer() as server:
        _, records = crawl_into(db_url, [server.url("/")])
    engine = open_engine(db_url)
    store = ResultStore(engine)
    store.resume_run(records[0]["run_id"])
    result = _result_from(records[0])
    statements = []

    @event.listens_for(engine, "before_cursor_execute")
    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("INSERT INTO RESULTS"):
            statements.append(statement)

    store.insert(store.batch([dataclasses.replace(result, seq=seq) for seq in range(1, 1201)]))
    with engine.connect() as connection:
        stored = connection.execute(select(ResultRow.seq).where(ResultRow.run_id == result.run_id)).scalars().all()
    engine.dispose()
    assert len(stored) == 1201 and len(set(stored)) == 1201
    if engine.dialect.driver == "psycopg2":
        assert statements == []  # PostgreSQL: loaded with COPY, no INSERT at all
    else:
        assert 1 <= len(statements) <= 3, len(statements)


def test_awkward_values_survive_the_trip(db_url):
    with HTTPTestServer() as server:
        _, records = crawl_into(db_url, [server.url("/")])
    awkward = "tab\there, new\nline, back\\slash \\N, quote' \"double\", café ☃"
    result = _result_from({**records[0], "error": awkward, "target": "https://example.com/?q=" + awkward})
    result = dataclasses.replace(result, seq=1, tls=TlsInfo(False, -3, None, awkward, None, ("a.example", awkward), None))
    engine = open_engine(db_url)
    store = ResultStore(engine)
    store.resume_run(result.run_id)
    store.insert(store.batch([result]))
    with engine.connect() as connection:
        row = connection.execute(select(ResultRow.__table__).where(ResultRow.seq == 1)).one()
    engine.dispose()
    assert (row.target, row.error, row.tls_subject) == (result.target, awkward, awkward)
    assert row.tls_sans == ["a.example", awkward] and row.tls_days_left == -3 and row.tls_issuer is None
    assert row.tls_verified is False and row.started_at.replace(tzinfo=None) == result.started_at.replace(tzinfo=None)


def test_a_result_without_a_seq_is_refused_before_anything_is_written(tmp_path):
    now = datetime.now()
    by_hand = Result(target="https://example.com/", run_id="r", ok=True, error_kind=None, error=None, status_code=200,
                     final_url=None, redirects=0, body_bytes=0, body_truncated=False, checks=(), timings=Timings(),
                     tls=None, started_at=now, finished_at=now)
    with pytest.raises(ValueError) as refused:
        ResultStore(open_engine(f"sqlite:///{tmp_path}/h.db")).batch([by_hand])
    assert str(refused.value) == "the result for https://example.com/ has no seq (its target's position in the sources)"


def _result_from(record):
    return Result(
        **{k: record[k] for k in ("target", "run_id", "ok", "error_kind", "error", "status_code", "final_url",
                                  "redirects", "body_bytes", "body_truncated", "seq")},
        checks=tuple(CheckOutcome(**c) for c in record["checks"]),
        timings=Timings(**record["timings"]),
        tls=None,
        started_at=datetime.fromisoformat(record["started_at"]),
        finished_at=datetime.fromisoformat(record["finished_at"]),
    )


@pytest.mark.parametrize(("url", "extra"), [
    ("postgresql+psycopg://u@127.0.0.1/test", "postgres"),
    ("mysql+mysqldb://u@127.0.0.1/test", "mysql"),
])
def test_a_missing_driver_names_the_extra_to_install(url, extra):
    with pytest.raises(DatabaseUnavailable) as caught:
        open_engine(url)
    assert f"pip install 'healthcrawl[{extra}]'" in str(caught.value)
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("url", "scheme"), [
    ("postgresql+psycopg://u@127.0.0.1/test", "postgresql+psycopg2://"),
    ("mysql+mysqldb://u@127.0.0.1/test", "mysql+pymysql://"),
])
def test_a_driver_the_extra_does_not_install_names_the_scheme_it_does(url, scheme):
    # the extras install psycopg2 and PyMySQL: installing one alone would not fix these URLs
    with pytest.raises(DatabaseUnavailable) as caught:
        open_engine(url)
    assert f"write {scheme}" in str(caught.value)


@pytest.mark.parametrize("scheme", ["postgresql+psycopg2://postgres", "mysql+pymysql://root"])
def test_an_unreachable_database_stops_the_run_before_any_target(tmp_path, scheme):
    with HTTPTestServer() as server:
        config = tmp_path / "crawl.yaml"
        config.write_text(textwrap.dedent(f"""
            sources: [{{type: list, targets: ["{server.url('/')}"]}}]
            sinks: [{{type: sqlalchemy, url: "{scheme}@127.0.0.1:{free_port()}/test"}}]
        """))
        proc = subprocess.run([sys.executable, "-m", "healthcrawl", "run", str(config)],
                              capture_output=True, text=True, timeout=60)
        assert server.hits["/"] == 0
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: sink 'sqlalchemy' cannot start:")
    assert len(proc.stderr.splitlines()) == 1 and "refused" in proc.stderr.lower()
