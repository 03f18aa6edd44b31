"""The ``file`` source: one target per line of a text file, read lazily."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from marshmallow import Schema, fields

from healthcrawl import hookimpl
from healthcrawl.components import Source
from healthcrawl.models import Target
from healthcrawl.targets import parse_target


class FileSourceOptions(Schema):
    path = fields.String(required=True, metadata={"description": "Target list; relative to the config file."})
    encoding = fields.String(load_default="utf-8", metadata={"description": "Text encoding of the file; undecodable bytes are replaced."})


class FileSource(Source):
    """One URL or bare domain per line; blank lines and ``#`` comments are skipped."""

    type_name = "file"
    Options = FileSourceOptions

    @property
    def path(self) -> Path:
        return self.context.base_dir / self.options["path"]

    def targets(self) -> Iterator[Target]:
        with open(self.path, encoding=self.options["encoding"], errors="replace") as lines:
            for line in lines:
                text = line.strip()
                if text and not text.startswith("#"):
                    yield parse_target(text)


@hookimpl
def healthcrawl_register_sources(register):
    register(FileSource)
