"""The ``list`` source: targets written inline in the config."""

from __future__ import annotations

from typing import Iterator

from marshmallow import Schema, fields

from healthcrawl import Source, Target, hookimpl, parse_target
from healthcrawl.configuration.request_spec import RequestSpecField


class ListSourceOptions(Schema):
    targets = fields.List(fields.String(), required=True, metadata={"description": "URLs or bare domains."})
    request = RequestSpecField()


class ListSource(Source):
    """The targets listed under ``targets:``."""

    type_name = "list"
    Options = ListSourceOptions

    def targets(self) -> Iterator[Target]:
        for text in self.options["targets"]:
            yield parse_target(text, request=self.options.get("request"))

    def total(self) -> int:
        return len(self.options["targets"])


@hookimpl
def healthcrawl_register_sources(register):
    register(ListSource)
