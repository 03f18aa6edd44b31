"""The ``redirect`` check: the target redirects, with an expected status, to an expected URL, host or scheme."""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from healthcrawl import Check, CheckOutcome, Snapshot, hookimpl

REDIRECT_STATUSES = (301, 302, 303, 307, 308)


class RedirectOptions(Schema):
    status = fields.List(
        fields.Integer(strict=True, validate=validate.OneOf(REDIRECT_STATUSES, error="must be one of: {choices}")),
        metadata={"description": "Redirect statuses that pass (needs request follow_redirects: false to be seen)."},
    )
    to = fields.String(metadata={"description": "The exact URL redirected to."})
    host = fields.String(metadata={"description": "The host redirected to (case-insensitive)."})
    to_https = fields.Boolean(load_default=False, metadata={"description": "The redirect must lead to an https URL."})

    @validates_schema
    def status_is_not_empty(self, data, **kwargs):
        if "status" in data and not data["status"]:
            raise ValidationError("must list at least one status", "status")


class RedirectCheck(Check):
    """With ``follow_redirects: false`` it judges the first response (its status and ``Location``);
    when redirects were followed, where the chain ended (``final_url``). No redirect fails."""

    type_name = "redirect"
    Options = RedirectOptions

    def evaluate(self, snapshot: Snapshot) -> CheckOutcome:
        options = self.options
        location = snapshot.headers.get("Location")
        if snapshot.status_code in REDIRECT_STATUSES and location:
            status, destination = snapshot.status_code, urljoin(snapshot.final_url or snapshot.target.url, location)
        elif snapshot.redirects > 0:
            status, destination = None, snapshot.final_url or ""
        else:
            return self.outcome(False, f"no redirect (status {snapshot.status_code})")
        problems = []
        if "status" in options and status not in options["status"]:
            seen = "not seen: redirects were followed" if status is None else str(status)
            problems.append(f"status {seen}, expected {', '.join(map(str, options['status']))}")
        parts = urlsplit(destination)
        if "to" in options and destination != options["to"]:
            problems.append(f"expected {options['to']}")
        if "host" in options and (parts.hostname or "") != options["host"].lower():
            problems.append(f"expected host {options['host']}")
        if options["to_https"] and parts.scheme != "https":
            problems.append("expected an https URL")
        detail = ("redirects" if status is None else f"{status}") + f" to {destination}"
        return self.outcome(not problems, detail + (", " + "; ".join(problems) if problems else ""))


@hookimpl
def healthcrawl_register_checks(register):
    register(RedirectCheck)
