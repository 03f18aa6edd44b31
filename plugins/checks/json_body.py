"""The ``json`` check: a value in a JSON body exists, equals, matches or compares with a number.

The value is found by a JSON Pointer (``/items/0/state``) or a dotted path
(``items.0.state``, ``items[0].state``). Only the body prefix that was read
(``crawl.max_body_bytes``) is parsed: a truncated body fails the check instead.
"""

from __future__ import annotations

import json
import re
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validates_schema

from healthcrawl import Check, CheckOutcome, Snapshot, bounded_number, hookimpl
from healthcrawl.configuration.request_spec import JsonValue
from healthcrawl.plugins.checks.fields import RegularExpression

JSON_EXACT = 2**53
"""Largest integer a JSON number (a double) holds exactly: the bound of the comparison options."""
COMPARISONS = {"lt": ("<", float.__lt__), "le": ("<=", float.__le__), "gt": (">", float.__gt__), "ge": (">=", float.__ge__)}
_MISSING = object()
_INDEX = re.compile(r"\[(\d+)\]")


class JsonOptions(Schema):
    path = fields.String(
        required=True,
        metadata={"description": "A JSON Pointer (/a/0/b) or a dotted path (a.0.b or a[0].b); empty or / is the whole body."},
    )
    equals = JsonValue(allow_none=True, metadata={"description": "The value must equal this (any JSON value)."})
    matches = RegularExpression(metadata={"description": "The value, as text, must match this regular expression."})
    exists = fields.Boolean(metadata={"description": "true: the path must exist; false: it must not."})
    lt = bounded_number(-JSON_EXACT, JSON_EXACT, metadata={"description": "The value must be a number below this."})
    le = bounded_number(-JSON_EXACT, JSON_EXACT, metadata={"description": "The value must be a number at most this."})
    gt = bounded_number(-JSON_EXACT, JSON_EXACT, metadata={"description": "The value must be a number above this."})
    ge = bounded_number(-JSON_EXACT, JSON_EXACT, metadata={"description": "The value must be a number at least this."})

    @validates_schema
    def sane_conditions(self, data, **kwargs):
        if data.get("exists") is False and len(set(data) - {"path", "exists"}) > 0:
            raise ValidationError("exists: false excludes every other condition", "exists")

    @post_load
    def parse_path(self, data, **kwargs):
        data["steps"] = path_steps(data["path"])
        data["compiled"] = re.compile(data["matches"]) if "matches" in data else None
        return data


def path_steps(path: str) -> tuple[str, ...]:
    """The keys (or list indexes, as text) that ``path`` walks through."""
    if path.startswith("/"):
        return tuple(p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")) if path != "/" else ()
    dotted = _INDEX.sub(r".\1", path)
    return tuple(part for part in dotted.split(".") if part != "") if dotted else ()


def lookup(document: Any, steps: tuple[str, ...]) -> Any:
    """The value at ``steps`` in ``document``, or ``_MISSING``."""
    value = document
    for step in steps:
        if isinstance(value, dict) and step in value:
            value = value[step]
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return _MISSING
    return value


class JsonCheck(Check):
    """Without a condition, the path must exist. Numbers compare as numbers (``1 == 1.0``)."""

    type_name = "json"
    Options = JsonOptions

    def evaluate(self, snapshot: Snapshot) -> CheckOutcome:
        options = self.options
        if snapshot.body_truncated:
            return self.outcome(False, f"the body is longer than the {len(snapshot.body)} bytes read (crawl.max_body_bytes)")
        try:
            document = json.loads(snapshot.body)
        except ValueError as error:  # UnicodeDecodeError included
            return self.outcome(False, f"the body is not JSON: {error}")
        value = lookup(document, options["steps"])
        path = options["path"]
        if value is _MISSING:
            return self.outcome(options.get("exists") is False, f"{path} not found")
        if options.get("exists") is False:
            return self.outcome(False, f"{path} exists: {_short(value)}")
        failures = list(self._failed_conditions(value))
        detail = f"{path} is {_short(value)}"
        return self.outcome(not failures, detail + (", " + "; ".join(failures) if failures else ""))

    def _failed_conditions(self, value: Any):
        options = self.options
        if "equals" in options and not _equal(value, options["equals"]):
            yield f"expected {_short(options['equals'])}"
        if options["compiled"] is not None:
            text = value if isinstance(value, str) else json.dumps(value)
            if options["compiled"].search(text) is None:
                yield f"does not match {options['matches']!r}"
        for key, (symbol, compare) in COMPARISONS.items():
            if key not in options:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                yield f"not a number, expected {symbol} {options[key]:g}"
            elif not compare(float(value), options[key]):
                yield f"expected {symbol} {options[key]:g}"


def _equal(value: Any, expected: Any) -> bool:
    if isinstance(value, bool) or isinstance(expected, bool):
        return value is expected if isinstance(value, bool) and isinstance(expected, bool) else False
    return value == expected


def _short(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


@hookimpl
def healthcrawl_register_checks(register):
    register(JsonCheck)
