"""The ``status`` check: the final status code is one of the expected codes or ranges."""

from __future__ import annotations

import functools
import re

from marshmallow import Schema, ValidationError, fields, post_load

from healthcrawl import Check, CheckOutcome, Snapshot, hookimpl

_CODE_OR_RANGE = re.compile(r"^\s*(\d{3})\s*(?:-\s*(\d{3}))?\s*$")


class StatusRanges(fields.Field):
    """A list of status codes (``200``) and inclusive ranges (``"200-399"``).

    Loaded as ``(low, high)`` pairs.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, list) or not value:
            raise ValidationError("must be a non-empty list of status codes or ranges such as 200-399")
        ranges, problems = [], {}
        for index, item in enumerate(value):
            match = _CODE_OR_RANGE.match(str(item))
            if not match or isinstance(item, bool):
                problems[index] = [f"{item!r} is not a status code or a range such as 200-399"]
                continue
            low = int(match.group(1))
            high = int(match.group(2) or low)
            if low > high:
                problems[index] = [f"{item!r}: the range is empty"]
            ranges.append((low, high))
        if problems:  # every bad item, each at its index
            raise ValidationError(problems)
        return tuple(ranges)


class StatusOptions(Schema):
    expect = StatusRanges(
        load_default=((200, 399),),
        metadata={"description": "Codes and ranges that pass.", "default_text": '["200-399"]'},
    )

    @post_load
    def keep_text(self, data, **kwargs):
        data["expect_text"] = ", ".join(f"{lo}" if lo == hi else f"{lo}-{hi}" for lo, hi in data["expect"])
        return data


class StatusCheck(Check):
    """Passes when the final response's status code is expected.

    A target's own ``expect_status`` field (for example a CSV column) overrides ``expect``.
    A redirect that was not followed (``follow_redirects: false``) shows its ``Location``.
    """

    type_name = "status"
    Options = StatusOptions

    def evaluate(self, snapshot: Snapshot) -> CheckOutcome:
        ranges, text = self.options["expect"], self.options["expect_text"]
        override = snapshot.target.fields.get("expect_status")
        if override not in (None, ""):
            text = str(override)
            try:
                ranges = _ranges(text)
            except ValidationError as error:
                groups = error.messages.values() if isinstance(error.messages, dict) else [error.messages]
                reasons = "; ".join(message for group in groups for message in group)
                return self.outcome(False, f"expect_status {text!r} is not valid: {reasons}")
        code = snapshot.status_code
        ok = code is not None and any(low <= code <= high for low, high in ranges)
        location = snapshot.headers.get("Location") if code is not None and 300 <= code < 400 else None
        shown = f"status {code}" + (f" to {location}" if location else "")
        return self.outcome(ok, shown + ("" if ok else f", expected {text}"))


@functools.lru_cache(maxsize=1024)
def _ranges(text: str) -> tuple[tuple[int, int], ...]:
    """Per-target expectations repeat across targets: parse each once."""
    return StatusRanges().deserialize(text.replace(";", ",").split(","))


@hookimpl
def healthcrawl_register_checks(register):
    register(StatusCheck)
