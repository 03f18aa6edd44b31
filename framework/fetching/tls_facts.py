"""Certificate facts for the result record, including for certificates that failed verification.

A verified certificate was already decoded by OpenSSL during the handshake: the connection hands
that decoding over (``note_verified_certificate``) and describing it needs no second parse. A
certificate that failed verification (or one whose names OpenSSL spells differently than RFC 4514
short names) is parsed with ``cryptography``. Both give the same strings.
"""

from __future__ import annotations

import functools
import ipaddress
from collections import OrderedDict
from datetime import datetime, timezone
from typing import Callable

from cryptography import x509

from healthcrawl.records import TlsInfo

CACHE_SIZE = 4096
"""Distinct certificates whose facts are kept: many targets share one (a CDN's, a wildcard's)."""
_Fields = tuple[datetime, str, str, tuple[str, ...]]
_SHORT_NAMES = {
    "commonName": "CN",
    "localityName": "L",
    "stateOrProvinceName": "ST",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "streetAddress": "STREET",
    "domainComponent": "DC",
    "userId": "UID",
}
"""OpenSSL's long attribute names and their RFC 4514 short names (cryptography's own list)."""
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_decoded_by_openssl: OrderedDict[bytes, _Fields] = OrderedDict()


def note_verified_certificate(der: bytes, decoded: Callable[[], dict]) -> None:
    """Keep the facts of a verified certificate as OpenSSL decoded them (``decoded`` is the socket's
    ``getpeercert``, called only for a certificate not seen yet), for ``describe_certificate``."""
    if der in _decoded_by_openssl:
        _decoded_by_openssl.move_to_end(der)
        return
    fields = _fields_from_openssl(decoded())
    if fields is not None:
        _decoded_by_openssl[der] = fields
        if len(_decoded_by_openssl) > CACHE_SIZE:
            _decoded_by_openssl.popitem(last=False)


def describe_certificate(der: bytes | None, *, verified: bool, version: str | None) -> TlsInfo:
    """Build ``TlsInfo`` from a DER certificate (fields are ``None`` when there is none)."""
    if not der:
        return TlsInfo(verified, None, None, None, None, (), version)
    not_after, subject, issuer, sans = _decoded_by_openssl.get(der) or _certificate_fields(der)
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


@functools.lru_cache(maxsize=CACHE_SIZE)
def _certificate_fields(der: bytes) -> _Fields:
    """Parse a certificate once with ``cryptography``."""
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


def _fields_from_openssl(decoded: dict) -> _Fields | None:
    """The facts from ``getpeercert()``'s dict; ``None`` when it is empty or names an attribute
    ``_SHORT_NAMES`` does not know (``cryptography`` then spells it)."""
    try:
        not_after = _openssl_time(decoded["notAfter"])
    except (KeyError, ValueError):
        return None
    subject, issuer = _rfc4514(decoded.get("subject", ())), _rfc4514(decoded.get("issuer", ()))
    if subject is None or issuer is None:
        return None
    alt_names = decoded.get("subjectAltName", ())
    names = [value for kind, value in alt_names if kind == "DNS"]
    try:
        addresses = [_address(value) for kind, value in alt_names if kind == "IP Address"]
    except ValueError:
        return None
    return not_after, subject, issuer, tuple(names + addresses)


def _openssl_time(text: str) -> datetime:
    """``"Jan  1 00:00:00 3000 GMT"`` (how OpenSSL prints a certificate time) as a UTC datetime.

    What ``ssl.cert_time_to_seconds`` reads, without its ``time.strptime`` (a third of the cost of
    describing a certificate)."""
    month, day, clock, year, zone = text.split()
    if zone != "GMT":
        raise ValueError(f"not a GMT time: {text!r}")
    hour, minute, second = clock.split(":")
    return datetime(int(year), _MONTHS.index(month) + 1, int(day), int(hour), int(minute), int(second), tzinfo=timezone.utc)


def _address(text: str) -> str:
    """An IP address subject alternative name as ``ipaddress`` writes it (OpenSSL writes IPv6 in full, upper case)."""
    text = text.strip()
    return str(ipaddress.ip_address(text)) if ":" in text else text


def _rfc4514(name: tuple) -> str | None:
    """A name as ``cryptography``'s ``Name.rfc4514_string()`` writes it: last RDN first, ``+`` within one."""
    rdns = []
    for rdn in reversed(name):
        attributes = []
        for attribute, value in rdn:
            short = _SHORT_NAMES.get(attribute)
            if short is None:
                return None
            attributes.append(f"{short}={_escaped(value)}")
        rdns.append("+".join(attributes))
    return ",".join(rdns)


def _escaped(value: str) -> str:
    """RFC 4514 escaping of an attribute value, character for character as ``cryptography`` does it."""
    if not value:
        return ""
    for special in ("\\", '"', "+", ",", ";", "<", ">"):
        value = value.replace(special, "\\" + special)
    value = value.replace("\0", "\\00")
    if value[0] == "#" or (value[0] == " " and len(value) > 1):
        value = "\\" + value
    if value[-1] == " ":
        value = value[:-1] + "\\ "
    return value
