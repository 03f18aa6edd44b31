"""The ``header`` check: a response header is present, absent, equal to a value or matching a pattern."""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, post_load, validates_schema

from healthcrawl import Check, CheckOutcome, Snapshot, hookimpl
from healthcrawl.plugins.checks.fields import RegularExpression


class HeaderOptions(Schema):
    header = fields.String(required=True, metadata={"description": "Header name (case-insensitive)."})
    equals = fields.String(metadata={"description": "The value must be exactly this."})
    matches = RegularExpression(metadata={"description": "The value must match this regular expression (searched)."})
    absent = fields.Boolean(load_default=False, metadata={"description": "Pass only when the header is missing."})
    negate = fields.Boolean(
        load_default=False, metadata={"description": "Fail when the condition holds (e.g. fail if a header matches)."}
    )

    @validates_schema
    def one_condition(self, data, **kwargs):
        given = [key for key in ("equals", "matches") if key in data] + (["absent"] if data.get("absent") else [])
        if len(given) > 1:
            raise ValidationError(f"give at most one of equals, matches, absent (got {', '.join(given)})")

    @post_load
    def compile_pattern(self, data, **kwargs):
        data["compiled"] = re.compile(data["matches"]) if "matches" in data else None
        return data


class HeaderCheck(Check):
    """Looks at the headers of the response the checks judge (the last one of a followed redirect chain).

    Without ``equals``, ``matches`` or ``absent``, the header must be present.
    """

    type_name = "header"
    Options = HeaderOptions

    def evaluate(self, snapshot: Snapshot) -> CheckOutcome:
        options = self.options
        name = options["header"]
        value = snapshot.headers.get(name)
        if options["absent"]:
            holds, detail = value is None, f"{name} " + ("absent" if value is None else f"present: {value!r}")
        elif value is None:
            holds, detail = False, f"{name} absent"
        elif "equals" in options:
            holds = value == options["equals"]
            detail = f"{name}: {value!r}" + ("" if holds else f", not {options['equals']!r}")
        elif options["compiled"] is not None:
            holds = options["compiled"].search(value) is not None
            detail = f"{name}: {value!r} " + ("matches" if holds else "does not match") + f" {options['matches']!r}"
        else:
            holds, detail = True, f"{name}: {value!r}"
        return self.outcome(holds != options["negate"], detail)


@hookimpl
def healthcrawl_register_checks(register):
    register(HeaderCheck)
