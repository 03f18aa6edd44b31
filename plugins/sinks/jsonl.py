"""The ``jsonl`` sink: one JSON result record per line."""

from __future__ import annotations

import json
import sys

from marshmallow import Schema, fields

from healthcrawl import Result, RunInfo, Sink, Summary, hookimpl


class JsonlSinkOptions(Schema):
    path = fields.String(required=True, metadata={"description": "Output file, relative to the config file's folder; '-' is stdout."})
    append = fields.Boolean(load_default=False, metadata={"description": "Append instead of truncating."})


class JsonlSink(Sink):
    """Writes exactly the result record's keys, one record per line, flushed per batch."""

    type_name = "jsonl"
    Options = JsonlSinkOptions

    def open(self, run: RunInfo) -> None:
        path = self.options["path"]
        self._owned = path != "-"
        if self._owned and self.context is not None:
            path = self.context.output_path(path)
        self._file = open(path, "a" if self.options["append"] else "w", encoding="utf-8") if self._owned else sys.stdout

    def write(self, results: list[Result]) -> None:
        self._file.write("".join(json.dumps(r.to_record(), ensure_ascii=False) + "\n" for r in results))
        self._file.flush()

    def close(self, run: RunInfo, summary: Summary, state: str) -> None:
        if self._owned:
            self._file.close()


@hookimpl
def healthcrawl_register_sinks(register):
    register(JsonlSink)
