"""The ``csv`` source: one target per row of a CSV file; the other columns become per-target fields."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator

from marshmallow import Schema, fields, validate

from healthcrawl import ConfigError, Source, Target, hookimpl, parse_target
from healthcrawl.configuration.request_spec import RequestSpecField
from healthcrawl.target_lines import read_lines
from healthcrawl.target_parsing import invalid_target


class CsvSourceOptions(Schema):
    path = fields.String(required=True, metadata={"description": "CSV file with a header row; relative to the config file."})
    column = fields.String(load_default="target", metadata={"description": "The column that holds the URL or domain."})
    delimiter = fields.String(
        load_default=",",
        validate=validate.Length(equal=1, error="must be one character"),
        metadata={"description": "The character between fields."},
    )
    encoding = fields.String(
        load_default="utf-8",
        metadata={"description": "The file's text encoding; a target cell with an undecodable byte is an invalid target."},
    )
    request = RequestSpecField()


class CsvSource(Source):
    """Reads rows lazily. Every other column is a field of the target (``Target.fields``), e.g.
    ``expect_status`` for the ``status`` check, ``expect_body`` for ``body_match``, or ``method``, ``headers``
    (``Name: value`` lines or a JSON object), ``body`` and ``follow_redirects`` for the request; empty cells are left out.
    Rows whose target cell is empty are skipped. Lines are read with bounded memory (``healthcrawl.target_lines``):
    an overlong line, or a row the csv module cannot parse, is an invalid target."""

    type_name = "csv"
    Options = CsvSourceOptions

    def __init__(self, options, context):
        super().__init__(options, context)
        with self._open() as file:
            first = next(read_lines(file, options["path"]), "")
        if isinstance(first, Target):
            raise ConfigError([f"path {self.path}: {first.invalid} (the header row)"])
        header = next(csv.reader([first], delimiter=options["delimiter"]), [])
        if options["column"] not in header:
            columns = ", ".join(header) or "none"
            raise ConfigError([f"column {options['column']!r} is not in {self.path} (its columns: {columns})"])

    @property
    def path(self) -> Path:
        return self.context.base_dir / self.options["path"]

    def targets(self) -> Iterator[Target]:
        refused: list[Target] = []  # overlong lines, set aside by read_lines and given out in their place

        def readable_lines(file) -> Iterator[str]:
            for line in read_lines(file, self.options["path"]):
                if isinstance(line, Target):
                    refused.append(line)
                else:
                    yield line

        with self._open() as file:
            rows = csv.reader(readable_lines(file), delimiter=self.options["delimiter"])
            header = next(rows, [])
            while True:
                try:
                    row = next(rows, None)
                except csv.Error as error:
                    row = invalid_target("", f"{self.options['path']}, line {rows.line_num}: {error}")
                yield from refused
                refused.clear()
                if row is None:
                    return
                target = row if isinstance(row, Target) else self._target(dict(zip(header, row)))
                if target is not None:
                    yield target

    def _target(self, row: dict[str, str]) -> Target | None:
        """The target of one row, or ``None`` when its target cell is empty or missing."""
        text = (row.pop(self.options["column"], None) or "").strip()
        if not text:
            return None
        fields_ = {name: _decoded(value) for name, value in row.items() if name and value}
        return parse_target(text, fields_, self.options.get("request"))

    def _open(self):
        try:
            return open(self.path, encoding=self.options["encoding"], errors="surrogateescape", newline="")
        except OSError as error:
            raise ConfigError([f"path {self.path} cannot be read: {error.strerror or error}"]) from None


def _decoded(cell: str) -> str:
    """A cell other than the target with its undecodable bytes (lone surrogates) replaced by U+FFFD."""
    return cell if cell.isascii() else cell.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


@hookimpl
def healthcrawl_register_sources(register):
    register(CsvSource)
