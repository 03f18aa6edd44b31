"""The ``sql`` source: targets from a database table or query, streamed through a server-side cursor."""

from __future__ import annotations

from typing import Any, Iterator

from marshmallow import Schema, ValidationError, fields, validates_schema

from healthcrawl import ComponentContext, ConfigError, Source, Target, bounded_integer, parse_target
from healthcrawl.configuration.request_spec import RequestSpecField


class SqlSourceOptions(Schema):
    url = fields.String(
        required=True,
        metadata={
            "description": "SQLAlchemy URL of the database to read; a relative sqlite:/// file is relative to "
            "the config file's folder (and must exist)."
        },
    )
    table = fields.String(
        load_default=None,
        metadata={"description": "A table (or schema.table) to read whole, in primary-key order (else by column)."},
    )
    query = fields.String(
        load_default=None,
        metadata={"description": "A SELECT statement (instead of table); give it an ORDER BY so that --resume works."},
    )
    column = fields.String(load_default="target", metadata={"description": "The column that holds the URL or domain."})
    fetch_rows = bounded_integer(
        1, 100_000, load_default=1000, metadata={"description": "Rows fetched from the cursor at a time."}
    )
    request = RequestSpecField()

    @validates_schema
    def table_or_query(self, data, **kwargs):
        if (data.get("table") is None) == (data.get("query") is None):
            raise ValidationError("give exactly one of table and query", "table")


class SqlSource(Source):
    """Streams rows with a server-side cursor (``stream_results``), ``fetch_rows`` at a time, so a table
    of millions of rows is never loaded at once. Every other column is a field of the target (``method``,
    ``headers``, ``body`` and ``follow_redirects`` override the request).

    A ``table`` is read in a stable order (its primary key, else ``column``): ``run --resume``
    skips targets by position, and a database returns an unordered scan in whatever order suits it.
    """

    type_name = "sql"
    Options = SqlSourceOptions

    def __init__(self, options: Any = None, context: ComponentContext | None = None):
        """Built from a config (with a ``context``), a relative SQLite file is resolved against the config's
        folder and must exist, and a URL that does not parse or whose driver is missing is a ``ConfigError``."""
        super().__init__(options, context)
        if context is not None:
            from healthcrawl.plugins.database.storage.engines import check_url, resolve_sqlite_url, sqlite_file

            self.options = {**self.options, "url": resolve_sqlite_url(self.options["url"], context.base_dir)}
            path = sqlite_file(self.options["url"])
            if path is not None and not path.is_file():
                raise ConfigError([f"no SQLite database at {path}"])
            check_url(self.options["url"])

    def targets(self) -> Iterator[Target]:
        # SQLAlchemy is imported when the source is used, not when the built-in plugins load.
        from sqlalchemy.exc import SQLAlchemyError

        from healthcrawl.plugins.database.storage.engines import DatabaseUnavailable, one_line, open_engine

        column = self.options["column"]
        engine = open_engine(self.options["url"])
        try:
            with engine.connect() as connection:
                rows = connection.execution_options(stream_results=True, yield_per=self.options["fetch_rows"]).execute(
                    self._statement(engine)
                )
                if column not in rows.keys():
                    columns = ", ".join(rows.keys())
                    raise ConfigError([f"column {column!r} is not in the rows (their columns: {columns})"])
                for row in rows.mappings():
                    value = row[column]
                    if value is None or not str(value).strip():
                        continue
                    fields_ = {k: v for k, v in row.items() if k != column and v is not None}
                    yield parse_target(str(value), fields_, self.options.get("request"))
        except SQLAlchemyError as error:
            raise DatabaseUnavailable(one_line(error)) from None
        finally:
            engine.dispose()

    def _statement(self, engine):
        from sqlalchemy import MetaData, Table, select, text
        from sqlalchemy.exc import NoSuchTableError

        if self.options["query"] is not None:
            return text(self.options["query"])
        schema, _, name = self.options["table"].rpartition(".")
        try:
            table = Table(name, MetaData(), schema=schema or None, autoload_with=engine)
        except NoSuchTableError:
            raise ConfigError([f"table {self.options['table']!r} is not in the database"]) from None
        column = self.options["column"]
        order = list(table.primary_key.columns) or ([table.c[column]] if column in table.c else [])
        return select(table).order_by(*order)

