"""The ``tls`` check: whether a target is (not) served over TLS, its protocol version, hostname and expiry."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from marshmallow import Schema, fields, validate

from healthcrawl import Check, CheckOutcome, Snapshot, bounded_integer, hookimpl

VERSIONS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")


class TlsOptions(Schema):
    required = fields.Boolean(
        load_default=True,
        metadata={"description": "true: the final URL must be served over TLS; false: it must not be (plain HTTP)."},
    )
    min_version = fields.String(
        validate=validate.OneOf(VERSIONS, error="must be one of: {choices}"),
        metadata={"description": "Lowest acceptable protocol version: " + ", ".join(VERSIONS) + "."},
    )
    match_hostname = fields.Boolean(
        load_default=False,
        metadata={"description": "The certificate must name the final URL's host, even with crawl.verify false."},
    )
    min_days = bounded_integer(0, 3650, metadata={"description": "Fail below this many days left."})


class TlsCheck(Check):
    """Judges the connection of the final response; a TLS error is an error of the result, not of this check."""

    type_name = "tls"
    Options = TlsOptions

    def evaluate(self, snapshot: Snapshot) -> CheckOutcome:
        options = self.options
        tls = snapshot.tls
        url = snapshot.final_url or snapshot.target.url
        if not options["required"]:
            return self.outcome(tls is None, "plain HTTP" if tls is None else f"served over {tls.version or 'TLS'}")
        if tls is None:
            return self.outcome(False, f"not TLS: {urlsplit(url).scheme}")
        problems = []
        if "min_version" in options and VERSIONS.index(options["min_version"]) > _rank(tls.version):
            problems.append(f"older than {options['min_version']}")
        host = urlsplit(url).hostname or ""
        if options["match_hostname"] and not any(_names_host(name, host) for name in tls.sans):
            problems.append(f"the certificate does not name {host} (names: {', '.join(tls.sans) or 'none'})")
        if "min_days" in options and (tls.days_left is None or tls.days_left < options["min_days"]):
            problems.append(f"{tls.days_left} days left, fewer than {options['min_days']}")
        detail = f"{tls.version or 'TLS'}, certificate expires in {tls.days_left} days"
        return self.outcome(not problems, detail + (", " + "; ".join(problems) if problems else ""))


def _rank(version: str | None) -> int:
    return VERSIONS.index(version) if version in VERSIONS else -1


def _names_host(name: str, host: str) -> bool:
    """Whether a subject alternative name covers ``host`` (RFC 6125: a wildcard stands for one left-most label)."""
    host = host.strip("[]").lower().rstrip(".")
    name = name.lower().rstrip(".")
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address(name)
    except ValueError:
        pass
    if name.startswith("*."):
        label, _, rest = host.partition(".")
        return bool(label) and rest == name[2:]
    return name == host


@hookimpl
def healthcrawl_register_checks(register):
    register(TlsCheck)
