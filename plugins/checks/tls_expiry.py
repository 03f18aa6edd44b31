"""The ``tls_expiry`` check: the server certificate is valid for at least ``min_days`` more days."""

from __future__ import annotations

from marshmallow import Schema

from healthcrawl import Check, CheckOutcome, Snapshot, bounded_integer, hookimpl


class TlsExpiryOptions(Schema):
    min_days = bounded_integer(0, 3650, load_default=14, metadata={"description": "Fail below this many days."})


class TlsExpiryCheck(Check):
    """Evaluated for every target that presented a certificate, even one that failed verification.

    Plain-HTTP targets are skipped (no outcome).
    """

    type_name = "tls_expiry"
    Options = TlsExpiryOptions

    def applies_to(self, snapshot: Snapshot) -> bool:
        return snapshot.tls is not None and snapshot.tls.days_left is not None

    def evaluate(self, snapshot: Snapshot) -> CheckOutcome:
        days_left, min_days = snapshot.tls.days_left, self.options["min_days"]
        ok = days_left >= min_days
        detail = f"certificate expires in {days_left} days ({snapshot.tls.not_after})"
        return self.outcome(ok, detail if ok else f"{detail}, fewer than {min_days}")


@hookimpl
def healthcrawl_register_checks(register):
    register(TlsExpiryCheck)
