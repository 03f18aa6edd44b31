"""The ``response_time`` check: the whole fetch, or one phase of it, took at most ``max_ms`` milliseconds."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from healthcrawl import Check, CheckOutcome, Snapshot, bounded_number, hookimpl

PHASES = ("total", "dns", "connect", "tls", "ttfb")


class ResponseTimeOptions(Schema):
    max_ms = bounded_number(
        0, 3_600_000, above=True, required=True,
        metadata={"description": "Fail above this many milliseconds."},
    )
    phase = fields.String(
        load_default="total",
        validate=validate.OneOf(PHASES, error="must be one of: {choices}"),
        metadata={"description": "What is timed: total, dns, connect, tls or ttfb (time to the first response head)."},
    )


class ResponseTimeCheck(Check):
    """Reads the result's ``timings``; a phase that did not happen (no DNS for an IP address, no TLS
    over plain HTTP, a reused connection) took no time and passes."""

    type_name = "response_time"
    Options = ResponseTimeOptions

    def evaluate(self, snapshot: Snapshot) -> CheckOutcome:
        phase, max_ms = self.options["phase"], self.options["max_ms"]
        took = getattr(snapshot.timings, f"{phase}_ms")
        if took is None:
            return self.outcome(True, f"no {phase} phase")
        ok = took <= max_ms
        return self.outcome(ok, f"{phase} {took:.0f} ms" + ("" if ok else f", more than {max_ms:g} ms"))


@hookimpl
def healthcrawl_register_checks(register):
    register(ResponseTimeCheck)
