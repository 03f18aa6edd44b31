"""Certificate facts for the result record, including for certificates that failed verification."""

from __future__ import annotations

import functools
from datetime import datetime, timezone

from cryptography import x509

from healthcrawl.records import TlsInfo


def describe_certificate(der: bytes | None, *, verified: bool, version: str | None) -> TlsInfo:
    """Build ``TlsInfo`` from a DER certificate (fields are ``None`` when there is none)."""
    if not der:
        return TlsInfo(verified, None, None, None, None, (), version)
    not_after, subject, issuer, sans = _certificate_fields(der)
    seconds_left = (not_after - datetime.now(timezone.utc)).total_seconds()
    return TlsInfo(
        verified=verified,
        days_left=int(seconds_left / 86400),  # whole days, truncated toward zero: expired 3.4 days ago is -3
        not_after=not_after.isoformat(),
        subject=subject,
        issuer=issuer,
        sans=sans,
        version=version,
    )


@functools.lru_cache(maxsize=4096)
def _certificate_fields(der: bytes) -> tuple[datetime, str, str, tuple[str, ...]]:
    """Parse a certificate once: many targets share one (a CDN's, a wildcard's)."""
    cert = x509.load_der_x509_certificate(der)
    return cert.not_valid_after_utc, cert.subject.rfc4514_string(), cert.issuer.rfc4514_string(), _subject_alt_names(cert)


def _subject_alt_names(cert: x509.Certificate) -> tuple[str, ...]:
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return ()
    names = extension.value.get_values_for_type(x509.DNSName)
    addresses = [str(ip) for ip in extension.value.get_values_for_type(x509.IPAddress)]
    return tuple(names + addresses)
