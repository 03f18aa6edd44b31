"""The ``file`` source: one target per line of a text file, read lazily."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from marshmallow import Schema, fields

from healthcrawl import ConfigError, Source, Target, hookimpl, parse_target
from healthcrawl.configuration.request_spec import RequestSpecField
from healthcrawl.target_lines import read_lines


class FileSourceOptions(Schema):
    path = fields.String(required=True, metadata={"description": "Target list; relative to the config file."})
    encoding = fields.String(load_default="utf-8", metadata={"description": "Text encoding of the file; a line with an undecodable byte is an invalid target."})
    request = RequestSpecField()


class FileSource(Source):
    """One URL or bare domain per line; blank lines and ``#`` comments are skipped. Lines are read with bounded
    memory (``healthcrawl.target_lines``): an overlong one is an invalid target."""

    type_name = "file"
    Options = FileSourceOptions

    def __init__(self, options, context):
        super().__init__(options, context)
        self._open().close()  # a missing or unreadable file is a config error, before anything is fetched

    @property
    def path(self) -> Path:
        return self.context.base_dir / self.options["path"]

    def targets(self) -> Iterator[Target]:
        with self._open() as file:
            for line in read_lines(file, self.options["path"]):
                if isinstance(line, Target):
                    yield line
                    continue
                text = line.strip()
                if text and not text.startswith("#"):
                    yield parse_target(text, request=self.options.get("request"))

    def _open(self):
        try:
            return open(self.path, encoding=self.options["encoding"], errors="surrogateescape")
        except OSError as error:
            raise ConfigError([f"path {self.path} cannot be read: {error.strerror or error}"]) from None


@hookimpl
def healthcrawl_register_sources(register):
    register(FileSource)
