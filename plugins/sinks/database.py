"""The ``sqlalchemy`` sink: runs and results in any database SQLAlchemy reaches (SQLite by default)."""

from __future__ import annotations

from marshmallow import Schema, fields
from sqlalchemy.exc import SQLAlchemyError

from healthcrawl import hookimpl
from healthcrawl.components import RunInfo, Sink
from healthcrawl.models import Result
from healthcrawl.storage.store import DatabaseUnavailable, ResultStore, open_engine
from healthcrawl.summary import Summary


class DatabaseSinkOptions(Schema):
    url = fields.String(load_default="sqlite:///healthcrawl.db", metadata={"description": "Any SQLAlchemy URL."})


class DatabaseSink(Sink):
    """Creates its tables on first use and writes each batch in one transaction."""

    type_name = "sqlalchemy"
    Options = DatabaseSinkOptions

    def open(self, run: RunInfo) -> None:
        self.store = ResultStore(open_engine(self.options["url"]))
        try:
            self.store.create_schema()
            self.store.start_run(run)
        except SQLAlchemyError as error:
            raise DatabaseUnavailable(" ".join(str(error.orig or error).split())) from None

    def write(self, results: list[Result]) -> None:
        self.store.write(results)

    def close(self, run: RunInfo, summary: Summary, state: str) -> None:
        self.store.finish_run(run, summary, state)
        self.store.engine.dispose()


@hookimpl
def healthcrawl_register_sinks(register):
    register(DatabaseSink)
