"""Benchmark: how many results per second the sqlalchemy sink stores, against a one-row-per-commit writer.

``python bench/storage_writes.py`` writes the same synthetic results (each with two check
outcomes, half with TLS facts) into SQLite and PostgreSQL (and MariaDB when reachable) two
ways, in the same run, alternating which goes first each round:

- healthcrawl: results go through the real ``ResultWriter`` (bounded queue, one writer greenlet)
  to the real ``sqlalchemy`` sink, which writes each batch with multi-row inserts in one transaction;
- naive: one result per transaction (insert its row and its outcomes, commit), the obvious loop.

Prints results/s for each and the ratio. Server URLs come from HEALTHCRAWL_TEST_POSTGRES_URL /
HEALTHCRAWL_TEST_MYSQL_URL (defaults: local test databases); each run gets a fresh schema or
database that is dropped afterwards.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import socket  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

from sqlalchemy import create_engine, insert, make_url, text  # noqa: E402

from healthcrawl import CheckOutcome, CrawlSettings, Result, RunInfo, Timings, TlsInfo  # noqa: E402
from healthcrawl.crawl.writer import ResultWriter  # noqa: E402
from healthcrawl.plugins.database.sink import DatabaseSink, DatabaseSinkOptions  # noqa: E402
from healthcrawl.plugins.database.storage.engines import open_engine  # noqa: E402
from healthcrawl.plugins.database.storage.migrations import upgrade_schema  # noqa: E402
from healthcrawl.plugins.database.storage.schema import CheckOutcomeRow, ResultRow  # noqa: E402
from healthcrawl.plugins.database.storage.store import ResultStore, result_row  # noqa: E402

SERVERS = {
    "postgresql": os.environ.get("HEALTHCRAWL_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/test"),
    "mariadb": os.environ.get("HEALTHCRAWL_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


def synthetic_results(run_id: str, count: int) -> list[Result]:
    """Results shaped like a real crawl's: two check outcomes each, TLS facts on every other one."""
    now = datetime.now(timezone.utc)
    tls = TlsInfo(True, 80, "2027-02-15T00:00:00+00:00", "CN=example.com", "CN=Example CA", ("example.com",), "TLSv1.3")
    checks = (CheckOutcome("status", True, "status 200"), CheckOutcome("tls_expiry", True, "certificate expires in 80 days"))
    return [
        Result(
            target=f"https://host{i}.example.com/", run_id=run_id, ok=True, error_kind=None, error=None,
            status_code=200, final_url=f"https://host{i}.example.com/", redirects=0, body_bytes=1024,
            body_truncated=False, checks=checks, timings=Timings(1.0, 2.0, 3.0, 4.0, 10.0 + i % 100),
            tls=tls if i % 2 else None, started_at=now, finished_at=now + timedelta(milliseconds=10), seq=i,
        )
        for i in range(count)
    ]


def run_info(run_id: str) -> RunInfo:
    return RunInfo(run_id=run_id, config_name="bench", started_at=datetime.now(timezone.utc), settings=CrawlSettings())


def healthcrawl_writer(url: str, count: int, batch_size: int, spool_dir: str) -> float:
    """Results/s through the real writer and sqlalchemy sink."""
    run_id = uuid.uuid4().hex
    options = DatabaseSinkOptions().load({"url": url, "spool_dir": spool_dir})
    sink = DatabaseSink(options)
    results = synthetic_results(run_id, count)
    run = run_info(run_id)
    sink.open(run)
    writer = ResultWriter([sink], observe=lambda result: None, batch_size=batch_size)
    started = time.perf_counter()
    writer.start()
    for result in results:
        writer.put(result)
    writer.close()
    elapsed = time.perf_counter() - started
    sink.close(run, writer.summary, "completed")
    assert writer.failure is None, writer.failure
    return count / elapsed


def naive_writer(url: str, count: int) -> float:
    """Results/s with one transaction (and commit) per result."""
    run_id = uuid.uuid4().hex
    engine = open_engine(url)
    store = ResultStore(engine)
    store.start_run(run_info(run_id))
    results = synthetic_results(run_id, count)
    started = time.perf_counter()
    for result in results:
        with engine.begin() as connection:
            connection.execute(insert(ResultRow).values(result_row(result)))
            for position, check in enumerate(result.checks):
                connection.execute(insert(CheckOutcomeRow).values(
                    run_id=run_id, seq=result.seq, position=position, name=check.name, ok=check.ok, detail=check.detail))
    elapsed = time.perf_counter() - started
    engine.dispose()
    return count / elapsed


def fresh_database(kind: str, folder: str):
    """A URL to an empty database of ``kind`` and a function that drops it; ``None`` if unreachable."""
    if kind == "sqlite":
        return f"sqlite:///{folder}/bench-{uuid.uuid4().hex[:8]}.db", lambda: None
    server = make_url(SERVERS[kind])
    try:
        socket.create_connection((server.host, server.port), timeout=2).close()
    except OSError:
        return None
    name = f"hc_bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"CREATE SCHEMA {name}" if kind == "postgresql" else f"CREATE DATABASE {name}"))
    url = (server.update_query_dict({"options": f"-csearch_path={name}"}) if kind == "postgresql"
           else server.set(database=name))

    def drop():
        with admin.connect() as connection:
            connection.execute(text(f"DROP SCHEMA {name} CASCADE" if kind == "postgresql" else f"DROP DATABASE {name}"))
        admin.dispose()

    return url.render_as_string(hide_password=False), drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=int, default=50_000, help="results per healthcrawl round (default 50000)")
    parser.add_argument("--naive-results", type=int, default=2_000, help="results per naive round (default 2000)")
    parser.add_argument("--batch-size", type=int, default=CrawlSettings.batch_size,
                        help=f"crawl.batch_size (default {CrawlSettings.batch_size})")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per database (default 3)")
    parser.add_argument("--databases", default="sqlite,postgresql,mariadb", help="comma-separated")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}")
    print(f"{args.results} results per healthcrawl round (batch_size {args.batch_size}), "
          f"{args.naive_results} per naive round, {args.rounds} rounds, medians:")
    print(f"{'database':<12}{'healthcrawl/s':>15}{'naive/s':>12}{'ratio':>9}")
    with tempfile.TemporaryDirectory() as folder:
        for kind in args.databases.split(","):
            database = fresh_database(kind, folder)
            if database is None:
                print(f"{kind:<12}  unreachable, skipped")
                continue
            url, drop = database
            try:
                upgrade_schema(open_engine(url))
                batched, naive = [], []
                for round_ in range(args.rounds):
                    order = [("batched", batched), ("naive", naive)]
                    for name, rates in order if round_ % 2 == 0 else reversed(order):
                        if name == "batched":
                            rates.append(healthcrawl_writer(url, args.results, args.batch_size, folder))
                        else:
                            rates.append(naive_writer(url, args.naive_results))
                b, n = statistics.median(batched), statistics.median(naive)
                print(f"{kind:<12}{b:>15,.0f}{n:>12,.0f}{b / n:>8.1f}x")
            finally:
                drop()


if __name__ == "__main__":
    main()
