"""The ``body_match`` check: the body prefix that was read contains a substring or matches a pattern."""

from __future__ import annotations

import functools
import re

from marshmallow import Schema, ValidationError, fields, post_load, validates_schema

from healthcrawl import Check, CheckOutcome, Snapshot, bounded_integer, hookimpl


class BodyMatchOptions(Schema):
    pattern = fields.String(required=True, metadata={"description": "Substring, or regular expression with regex: true."})
    regex = fields.Boolean(load_default=False, metadata={"description": "Treat pattern as a regular expression (matched on bytes)."})
    negate = fields.Boolean(load_default=False, metadata={"description": "Pass when the pattern is absent."})
    scan_bytes = bounded_integer(
        1, 1 << 30, load_default=65536,
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
    """Matches on bytes (no charset detection); a regex scans at most ``scan_bytes`` bytes.

    A target's own ``expect_body`` field (for example a CSV column) overrides ``pattern``.
    """

    type_name = "body_match"
    Options = BodyMatchOptions

    def evaluate(self, snapshot: Snapshot) -> CheckOutcome:
        options = self.options
        pattern, needle, compiled = options["pattern"], options["needle"], options["compiled"]
        override = snapshot.target.fields.get("expect_body")
        if override not in (None, ""):
            pattern, needle = str(override), str(override).encode()
            if options["regex"]:
                try:
                    compiled = _compiled(needle)
                except re.error as error:
                    return self.outcome(False, f"expect_body {pattern!r} is not a valid regular expression: {error}")
        if compiled is not None:
            found = compiled.search(snapshot.body[: options["scan_bytes"]]) is not None
        else:
            found = needle in snapshot.body
        ok = found != options["negate"]
        verb = "found" if found else "not found"
        return self.outcome(ok, f"{pattern!r} {verb} in {len(snapshot.body)} body bytes")


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: bytes) -> re.Pattern:
    """Per-target patterns repeat across targets: compile each once."""
    return re.compile(pattern)


@hookimpl
def healthcrawl_register_checks(register):
    register(BodyMatchCheck)
