"""The ``body_match`` check: the body prefix that was read contains a substring or matches a pattern."""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, post_load, validates_schema

from healthcrawl import hookimpl
from healthcrawl.components import Check
from healthcrawl.config import at_least
from healthcrawl.models import CheckOutcome, Snapshot


class BodyMatchOptions(Schema):
    pattern = fields.String(required=True, metadata={"description": "Substring, or regular expression with regex: true."})
    regex = fields.Boolean(load_default=False, metadata={"description": "Treat pattern as a regular expression (matched on bytes)."})
    negate = fields.Boolean(load_default=False, metadata={"description": "Pass when the pattern is absent."})
    scan_bytes = fields.Integer(
        load_default=65536,
        validate=at_least(1),
        metadata={"description": "Bytes of the body a regular expression scans (bounds runaway patterns)."},
    )

    @validates_schema
    def pattern_compiles(self, data, **kwargs):
        if data.get("regex"):
            try:
                re.compile(data["pattern"].encode())
            except re.error as error:
                raise ValidationError(f"not a valid regular expression: {error}", "pattern") from None

    @post_load
    def compile_pattern(self, data, **kwargs):
        needle = data["pattern"].encode()
        data["compiled"] = re.compile(needle) if data["regex"] else None
        data["needle"] = needle
        return data


class BodyMatchCheck(Check):
    """Matches on bytes (no charset detection); a regex scans at most ``scan_bytes`` bytes."""

    type_name = "body_match"
    Options = BodyMatchOptions

    def evaluate(self, snapshot: Snapshot) -> CheckOutcome:
        options = self.options
        if options["compiled"] is not None:
            found = options["compiled"].search(snapshot.body[: options["scan_bytes"]]) is not None
        else:
            found = options["needle"] in snapshot.body
        ok = found != options["negate"]
        verb = "found" if found else "not found"
        return self.outcome(ok, f"{options['pattern']!r} {verb} in {len(snapshot.body)} body bytes")


@hookimpl
def healthcrawl_register_checks(register):
    register(BodyMatchCheck)
