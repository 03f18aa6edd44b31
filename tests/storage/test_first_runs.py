"""Runs started at once on an empty database: one creates the schema, the others wait for it and go on."""

import subprocess
import sys
import textwrap

from sqlalchemy import func, select

from healthcrawl.plugins.database.storage.engines import open_engine
from healthcrawl.plugins.database.storage.migrations import current_revision, head_revision
from healthcrawl.plugins.database.storage.schema import ResultRow, Run
from healthcrawl.testing.servers import HTTPTestServer

RUNS = 4

START_TOGETHER = textwrap.dedent("""
    import os, sys, time
    for _ in range(6000):  # every process is started and imported before any goes (at most 60 s)
        if os.path.exists(sys.argv[1]):
            break
        time.sleep(0.01)
    from healthcrawl.cli.main import main
    sys.exit(main(["run", sys.argv[2], "--quiet"]))
""")


def test_runs_started_together_on_an_empty_database_all_complete(db_url, tmp_path):
    with HTTPTestServer() as server:
        config = tmp_path / "crawl.yaml"
        config.write_text(textwrap.dedent(f"""\
            crawl: {{workers: 1}}
            sources: [{{type: list, targets: ["{server.url('/a')}", "{server.url('/b')}"]}}]
            checks: [{{type: status}}]
            sinks: [{{type: sqlalchemy, url: "{db_url}", spool_dir: "{tmp_path / 'spool'}"}}]
        """))
        go = tmp_path / "go"
        processes = [
            subprocess.Popen([sys.executable, "-c", START_TOGETHER, str(go), str(config)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(RUNS)
        ]
        go.touch()
        finished = [process.communicate(timeout=240) for process in processes]
    failures = [(process.returncode, err) for process, (_, err) in zip(processes, finished) if process.returncode]
    assert failures == []
    engine = open_engine(db_url)
    with engine.connect() as connection:
        states = connection.execute(select(Run.state)).scalars().all()
        results = connection.execute(select(func.count()).select_from(ResultRow)).scalar()
    assert current_revision(engine) == head_revision()
    engine.dispose()
    assert states == ["completed"] * RUNS and results == 2 * RUNS
