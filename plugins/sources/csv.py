"""The ``csv`` source: one target per row of a CSV file; the other columns become per-target fields."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from marshmallow import Schema, fields, validate

from healthcrawl import ConfigError, Source, Target, hookimpl, parse_target
from healthcrawl.configuration.request_spec import RequestSpecField


class CsvSourceOptions(Schema):
    path = fields.String(required=True, metadata={"description": "CSV file with a header row; relative to the config file."})
    column = fields.String(load_default="target", metadata={"description": "The column that holds the URL or domain."})
    delimiter = fields.String(
        load_default=",",
        validate=validate.Length(equal=1, error="must be one character"),
        metadata={"description": "The character between fields."},
    )
    encoding = fields.String(load_default="utf-8", metadata={"description": "The file's text encoding."})
    request = RequestSpecField()


class CsvSource(Source):
    """Reads rows lazily. Every other column is a field of the target (``Target.fields``), e.g.
    ``expect_status`` for the ``status`` check, ``expect_body`` for ``body_match``, or ``method``, ``headers``
    (``Name: value`` lines or a JSON object), ``body`` and ``follow_redirects`` for the request; empty cells are left out.
    Rows whose target cell is empty are skipped."""

    type_name = "csv"
    Options = CsvSourceOptions

    def __init__(self, options, context):
        super().__init__(options, context)
        with self._open() as file:
            header = next(csv.reader(file, delimiter=options["delimiter"]), [])
        if options["column"] not in header:
            columns = ", ".join(header) or "none"
            raise ConfigError([f"column {options['column']!r} is not in {self.path} (its columns: {columns})"])

    @property
    def path(self) -> Path:
        return self.context.base_dir / self.options["path"]

    def targets(self) -> Iterator[Target]:
        column = self.options["column"]
        with self._open() as file:
            for row in csv.DictReader(file, delimiter=self.options["delimiter"]):
                text = (row.pop(column) or "").strip()
                if text:
                    yield parse_target(
                        text, {k: v for k, v in row.items() if k and v not in (None, "")}, self.options.get("request")
                    )

    def _open(self):
        try:
            return open(self.path, encoding=self.options["encoding"], errors="replace", newline="")
        except OSError as error:
            raise ConfigError([f"path {self.path} cannot be read: {error.strerror or error}"]) from None


@hookimpl
def healthcrawl_register_sources(register):
    register(CsvSource)
