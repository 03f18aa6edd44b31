"""A COPY to PostgreSQL lifts psycopg2's gevent wait callback (storage/copy.py); another statement of the
same process in that window waits, yielding, instead of blocking every greenlet in C.

It used to block: a lease renewal during a COPY froze the process until the renewal's query ended,
and deadlocked the outage tests, whose relay to the database runs in the same process.
"""

import json
import subprocess
import sys

import gevent
from sqlalchemy import Column, Integer, MetaData, Table, make_url

from healthcrawl.plugins.database.storage.copy import copy_rows
from healthcrawl.plugins.database.storage.engines import open_engine

# Another process (not gevent) locks both tables, says so, says when a COPY waits for its lock, and
# lets go when its stdin closes, or after 60 s whatever happens (it then says it timed out).
LOCKER = r"""
import json, select, sys, time
import psycopg2
params = json.loads(sys.argv[1])
locker = psycopg2.connect(**params)
locker.cursor().execute("LOCK TABLE copied, other IN ACCESS EXCLUSIVE MODE")
print("locked", flush=True)
watcher = psycopg2.connect(**params)
watcher.autocommit = True
for _ in range(6000):
    cursor = watcher.cursor()
    cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY%'")
    if cursor.fetchone()[0]:
        break
    time.sleep(0.01)
print("copy waits", flush=True)
ended = select.select([sys.stdin], [], [], 60)[0]
locker.commit()
print("released" if ended else "timed out", flush=True)
"""


def test_a_statement_during_a_copy_waits_for_it_while_other_greenlets_run(pg_db_url):
    engine = open_engine(pg_db_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE copied (n integer)")
        connection.exec_driver_sql("CREATE TABLE other (n integer)")
        connection.exec_driver_sql("INSERT INTO other VALUES (7)")
    url = make_url(pg_db_url)
    params = {"host": url.host, "port": url.port, "user": url.username, "dbname": url.database, **url.query}
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, json.dumps(params)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert locker.stdout.readline() == "locked\n"
        table = Table("copied", MetaData(), Column("n", Integer))

        def copy():
            with engine.begin() as connection:
                copy_rows(connection, table, ({"n": n} for n in range(1000)))

        copying = gevent.spawn(copy)
        assert locker.stdout.readline() == "copy waits\n"  # the COPY runs, its wait callback lifted

        def count_other():
            with engine.connect() as connection:
                return connection.exec_driver_sql("SELECT n FROM other").scalar()

        ticks = []
        ticker = gevent.spawn(lambda: [ticks.append(gevent.sleep(0.01)) for _ in range(20)])
        other = gevent.spawn(count_other)  # blocked by the lock too: it must not take the process with it
        ticker.join(timeout=30)
        assert len(ticks) == 20, "the process stood still while a statement waited during a COPY"
        assert not other.ready()
        locker.stdin.close()  # the locker lets go: the COPY ends, then the statement runs
        assert locker.stdout.readline() == "released\n"
        copying.get(timeout=60)
        assert other.get(timeout=60) == 7
    finally:
        locker.kill()
        locker.wait()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*), count(DISTINCT n) FROM copied").one() == (1000, 1000)
    engine.dispose()
