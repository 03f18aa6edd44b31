"""A SQLite database locked by another process: the crawl goes on (nothing waits on the event loop), nothing is lost."""

import subprocess
import sys
import textwrap

from sqlalchemy import func, select

from healthcrawl.plugins.database.storage.engines import open_engine
from healthcrawl.plugins.database.storage.schema import ResultRow, Run
from healthcrawl.testing.crawl import run_crawl_outcome
from healthcrawl.testing.servers import HTTPTestServer

TARGETS = 400

HOLD_THE_LOCK = textwrap.dedent("""
    import os, sqlite3, sys, time
    database, lock, locked, release = sys.argv[1:]
    def wait_for(path):
        for _ in range(24000):  # at most 240 s
            if os.path.exists(path):
                return
            time.sleep(0.01)
    wait_for(lock)
    connection = sqlite3.connect(database, isolation_level=None)
    connection.execute("BEGIN EXCLUSIVE")
    open(locked, "w").close()
    wait_for(release)
    connection.execute("COMMIT")
""")


def test_a_locked_sqlite_database_times_out_no_healthy_target(tmp_path, on_result, wait_until):
    database = tmp_path / "h.db"
    signals = {name: tmp_path / name for name in ("lock", "locked", "release")}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_THE_LOCK, str(database), *map(str, signals.values())])

    def hold_the_lock_a_while(seen):
        if seen == 20:  # the run is recorded: from now on another process holds the database
            signals["lock"].touch()
            assert wait_until(signals["locked"].exists)
        elif seen == 300:
            signals["release"].touch()

    on_result(hold_the_lock_a_while)
    try:
        with HTTPTestServer() as server:
            server.route("/slow", delay=0.05)
            config = {
                "crawl": {"concurrency": 10, "timeout": 2, "batch_size": 10},
                "sources": [{"type": "list", "targets": [server.url("/slow") + f"?n={i}" for i in range(TARGETS)]}],
                "checks": [{"type": "status"}],
                "sinks": [{"type": "sqlalchemy", "url": f"sqlite:///{database}", "spool_dir": str(tmp_path / "spool")}],
            }
            outcome, records = run_crawl_outcome(config)
    finally:
        signals["release"].touch()
        holder.wait(timeout=60)
    timed_out = [record["target"] for record in records if record["error_kind"] == "timeout"]
    assert timed_out == [] and all(record["ok"] for record in records)
    assert outcome.state == "completed", outcome.error
    engine = open_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        stored = connection.execute(select(func.count(), func.count(func.distinct(ResultRow.seq)))).one()
        run = connection.execute(select(Run.state, Run.targets)).one()
    engine.dispose()
    assert tuple(stored) == (TARGETS, TARGETS) and tuple(run) == ("completed", TARGETS)
