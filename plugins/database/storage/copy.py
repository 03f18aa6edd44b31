"""Bulk-loading rows into PostgreSQL with ``COPY ... FROM STDIN`` (psycopg2), several times faster than INSERT.

COPY cannot skip rows that are stored already: a batch that meets one fails as a whole
(a unique violation). ``ResultStore`` then writes it again with ``skip_stored``: copied into
a temporary table of the connection (emptied at each commit) and moved with ``INSERT ...
SELECT ... ON CONFLICT DO NOTHING``. The common case keeps the plain COPY's speed. The text is encoded before the COPY, so a
value no encoding can hold fails in Python as a ``UnicodeEncodeError`` (a data error), not
halfway through the COPY.

psycopg2 refuses COPY while a wait callback (the one that makes it gevent-friendly) is
set, so the callback is lifted for the duration of the COPY, which runs in gevent's
thread pool: the crawl's greenlets go on meanwhile, and one that uses psycopg2 in that window (a
lease renewal, an ``sql`` source fetching rows) waits for the COPY to end (``green_psycopg2``).
``tcp_user_timeout`` (see ``engines.py``) bounds a COPY to a server that vanished.
"""

from __future__ import annotations

import io
import json
import re
from datetime import datetime
from typing import Any, Iterable

import gevent
from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError

from healthcrawl.plugins.database.storage.green_psycopg2 import wait_callback_lifted

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_NEEDS_ESCAPE = re.compile(r"[\\\t\n\r]")


def copy_rows(connection: Connection, table: Table, rows: Iterable[dict[str, Any]], skip_stored: bool = False) -> None:
    """Write ``rows`` (dicts keyed by column name) into ``table`` with one COPY; with ``skip_stored``,
    through a staging table, leaving out rows whose primary key is stored already."""
    import psycopg2

    columns = [column.name for column in table.columns]
    text = _TEXT.get
    buffer = io.BytesIO(
        "".join(
            "\t".join([text(type(value), _other)(value) for value in map(row.__getitem__, columns)]) + "\n"
            for row in rows
        ).encode("utf-8")
    )
    into = _staging_table(connection, table) if skip_stored else table.name
    statement = f"COPY {into} ({', '.join(columns)}) FROM STDIN"
    with wait_callback_lifted() as lifted:
        if lifted:
            failure = gevent.get_hub().threadpool.apply(_copy_returning_failure, (connection, statement, buffer))
        else:
            failure = _copy_returning_failure(connection, statement, buffer)
    if isinstance(failure, psycopg2.Error):  # as SQLAlchemy wraps every other statement's: DataError, OperationalError...
        raise DBAPIError.instance(statement, None, failure, psycopg2.Error, hide_parameters=True) from None
    if failure is not None:
        raise failure
    if skip_stored:
        listed = ", ".join(columns)
        connection.exec_driver_sql(
            f"INSERT INTO {table.name} ({listed}) SELECT {listed} FROM {into} ON CONFLICT DO NOTHING"
        )


def _staging_table(connection: Connection, table: Table) -> str:
    """The name of the session's temporary twin of ``table``, emptied at each commit.

    Made in the write's own transaction each time (``IF NOT EXISTS``): a rolled-back write
    takes the table with it, so the next one must not count on it."""
    name = f"healthcrawl_staging_{table.name}"
    connection.exec_driver_sql(f"CREATE TEMPORARY TABLE IF NOT EXISTS {name} (LIKE {table.name}) ON COMMIT DELETE ROWS")
    return name


def _copy_returning_failure(connection: Connection, statement: str, buffer: io.BytesIO) -> Exception | None:
    """``_copy`` for the thread pool: a failure is handed back, to be raised by the caller (the pool would
    print its traceback)."""
    try:
        _copy(connection, statement, buffer)
    except Exception as error:
        return error
    return None


def _copy(connection: Connection, statement: str, buffer: io.BytesIO) -> None:
    with connection.connection.driver_connection.cursor() as cursor:
        cursor.copy_expert(statement, buffer)


def _string(value: str) -> str:
    return value.translate(_ESCAPES) if _NEEDS_ESCAPE.search(value) else value


def _other(value: Any) -> str:
    if isinstance(value, (list, dict)):
        return _string(json.dumps(value))
    return _string(str(value))


_TEXT = {
    type(None): lambda value: "\\N",
    bool: lambda value: "t" if value else "f",
    str: _string,
    int: str,
    float: repr,
    datetime: datetime.isoformat,
}
"""How each type of value is written in COPY's text format."""
