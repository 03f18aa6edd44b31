"""Rows every database accepts: telling a refused row (a data error) from an outage, and the safe form of such a row.

A data error is about one row's values (a NUL byte PostgreSQL cannot store, a lone surrogate
no driver can encode, a value longer than MariaDB's column): retrying cannot help, waiting
for the database would wait forever. ``ResultStore.insert`` splits a batch that fails this
way and stores each refused row in its *safe form*: an ``invalid_target`` result whose
target is escaped and cut to ``MAX_TARGET_LENGTH``, with the reason in ``error``.
"""

from __future__ import annotations

from typing import Any

from healthcrawl.plugins.database.storage.schema import ResultRow

MAX_TARGET_LENGTH = 8192
"""The longest target stored as is (in characters); a longer one is stored cut, as ``invalid_target``.

8,192 characters of at most 4 bytes fit MariaDB's 64 KB ``TEXT`` with room to spare."""

MAX_REASON_LENGTH = 500
"""The longest reason stored in ``error`` for a row stored in its safe form."""

_DATA_ERROR_NAMES = frozenset({"DataError", "IntegrityError"})
"""PEP 249 names the errors about the data (as opposed to the connection) the same in every driver."""


def is_data_error(error: BaseException) -> bool:
    """Whether ``error`` is about the values written (not the connection): a DBAPI or SQLAlchemy
    ``DataError``/``IntegrityError`` (also raw ones, from psycopg2's COPY), or a value no driver can encode."""
    for candidate in (error, getattr(error, "orig", None)):
        if candidate is None:
            continue
        if isinstance(candidate, (UnicodeError, ValueError)):
            return True
        if _DATA_ERROR_NAMES & {cls.__name__ for cls in type(candidate).__mro__}:
            return True
    return False


def target_problem(target: str) -> str | None:
    """Why ``target`` cannot be stored as is (too long, a NUL byte, not encodable), or ``None``."""
    if len(target) > MAX_TARGET_LENGTH:
        return f"the target is longer than {MAX_TARGET_LENGTH} characters ({len(target)})"
    if "\x00" in target:
        return "the target contains a NUL byte"
    try:
        target.encode("utf-8")
    except UnicodeEncodeError:
        return "the target is not valid Unicode (a lone surrogate)"
    return None


def storable_text(text: str, limit: int) -> str:
    """``text`` with NUL bytes and lone surrogates escaped (``\\x00``, ``\\ud800``), cut to ``limit`` characters."""
    text = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
    if len(text) <= limit:
        return text
    cut = f"... ({len(text) - limit} more characters)"
    return text[: limit - len(cut)] + cut


def safe_form(row: dict[str, Any], reason: str) -> dict[str, Any]:
    """The ``invalid_target`` results row that stands for ``row``, which could not be stored as is.

    Its target is made storable and the reason goes in ``error``; every other column that may be
    ``NULL`` is, the counts are 0, and any other required column keeps the row's value."""
    safe = {
        "target": storable_text(row["target"], MAX_TARGET_LENGTH),
        "ok": False,
        "error_kind": "invalid_target",
        "error": storable_text(f"not storable as is: {reason}", MAX_REASON_LENGTH),
        "redirects": 0,
        "body_bytes": 0,
        "body_truncated": False,
    }
    for column in ResultRow.__table__.columns:
        if column.name not in safe and column.name in row:
            safe[column.name] = None if column.nullable else row[column.name]
    return safe
