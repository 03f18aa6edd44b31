"""The ``security_headers`` check: the response carries the security headers a site should send."""

from __future__ import annotations

import re

from marshmallow import Schema, ValidationError, fields, validate

from healthcrawl import Check, CheckOutcome, Snapshot

HSTS = "strict-transport-security"
NOSNIFF = "x-content-type-options"
CSP = "content-security-policy"
HEADERS = (HSTS, NOSNIFF, CSP)
ONE_YEAR = 31_536_000
_MAX_AGE = re.compile(r'^\s*max-age\s*=\s*"?(\d+)"?\s*$', re.IGNORECASE)


def _distinct(names: list[str]) -> None:
    if len(set(names)) != len(names):
        raise ValidationError("lists a header twice")


class SecurityHeadersOptions(Schema):
    require = fields.List(
        fields.String(validate=validate.OneOf(HEADERS)),
        load_default=list(HEADERS),
        validate=[validate.Length(min=1, error="must name at least one header"), _distinct],
        metadata={"description": "Headers that must be present (lower case)."},
    )
    hsts_min_max_age = fields.Integer(
        load_default=ONE_YEAR,
        validate=validate.Range(min=0, error="must be at least {min}"),
        metadata={"description": "Smallest Strict-Transport-Security max-age accepted, in seconds."},
    )


class SecurityHeadersCheck(Check):
    """Fails with every problem found, e.g. ``Strict-Transport-Security max-age 300 < 31536000``.

    - ``strict-transport-security``: present with ``max-age`` of at least ``hsts_min_max_age``; only
      judged on HTTPS responses, since browsers ignore HSTS sent over plain HTTP.
    - ``x-content-type-options``: exactly ``nosniff``.
    - ``content-security-policy``: present and not empty.
    """

    type_name = "security_headers"
    Options = SecurityHeadersOptions

    def evaluate(self, snapshot: Snapshot) -> CheckOutcome:
        headers = {name.lower(): value.strip() for name, value in snapshot.headers.items()}
        https = (snapshot.final_url or snapshot.target.url).startswith("https://")
        problems = []
        for name in self.options["require"]:
            if name == HSTS and not https:
                continue
            value = headers.get(name)
            if not value:
                problems.append(f"{_title(name)} missing")
            elif name == HSTS:
                problems.extend(self._hsts_problems(value))
            elif name == NOSNIFF and value.lower() != "nosniff":
                problems.append(f"{_title(name)} is {value!r}, not 'nosniff'")
        return self.outcome(not problems, "; ".join(problems) or "security headers present")

    def _hsts_problems(self, value: str) -> list[str]:
        ages = [int(m.group(1)) for part in value.split(";") if (m := _MAX_AGE.match(part))]
        if not ages:
            return [f"{_title(HSTS)} has no max-age"]
        minimum = self.options["hsts_min_max_age"]
        return [f"{_title(HSTS)} max-age {ages[0]} < {minimum}"] if ages[0] < minimum else []


def _title(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))
