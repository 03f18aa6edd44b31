"""Turning a line of a target list into a ``Target``: a URL, or a bare domain meaning ``https://domain/``.

Credentials in a URL (``https://user:secret@host/``) become the target's basic auth and
never its ``url``: that shows them masked (``https://user:***@host/``, or ``https://***@host/``
for a bare user name, which is often a token), and so does every record, log line and error
that names the target.

A line longer than ``MAX_TARGET_LENGTH`` or holding a NUL byte, a lone surrogate (an
undecodable byte) or another control character is an invalid target before anything else is
looked at; its ``url`` is then the line escaped and cut (``safe_text``). Host names are mapped
with IDNA 2008 and UTS 46 non-transitional processing (``encode_host``).
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

import idna

from healthcrawl.records import Target

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_SCHEMES = ("http", "https")
_USERINFO_IN_URL = re.compile(r"://([^/\s]*)@")
MASK = "***"
MAX_TARGET_LENGTH = 2048
"""The longest target line (in characters, white space around it left out); a longer one is an invalid target.

2,048 is the longest URL that browsers and sitemaps have long been expected to handle."""


def parse_target(line: str, fields: Mapping[str, Any] | None = None, request: Mapping[str, Any] | None = None) -> Target:
    """Parse one target; an unusable line gives ``Target(url=line, invalid=reason)`` (its password masked).

    ``request`` holds the source's overrides of the crawl's request spec (loaded by
    ``RequestSpecSchema``); credentials in the URL add basic auth to them.
    """
    text = line.strip()
    fields = dict(fields or {})
    try:
        url = normalise_url(text)
    except ValueError as reason:
        return invalid_target(text, str(reason), fields, request)
    parts = urlsplit(url)
    if parts.username is None:
        return Target(url=url, fields=fields, request=request)
    auth = ("basic", unquote(parts.username), unquote(parts.password or ""))
    return Target(url=mask_credentials(url), fields=fields, request={**(request or {}), "auth": auth})


def invalid_target(
    text: str, reason: str, fields: Mapping[str, Any] | None = None, request: Mapping[str, Any] | None = None
) -> Target:
    """The ``Target`` for a line that cannot be crawled: its url the line masked and made safe (``safe_text``)."""
    return Target(
        url=safe_text(mask_credentials(text)),
        fields=dict(fields or {}),
        invalid=safe_text(mask_credentials(reason)),
        request=request,
    )


def safe_text(text: str) -> str:
    """``text`` with every character that is not printable (control and format characters, lone surrogates)
    escaped as in Python (``\\x00``, ``\\u200b``, ``\\udcff``), cut to at most ``MAX_TARGET_LENGTH`` characters."""
    if len(text) <= MAX_TARGET_LENGTH and text.isprintable():
        return text
    pieces, size = [], 0
    for ch in text:
        piece = ch if ch.isprintable() else ascii(ch)[1:-1]
        size += len(piece)
        if size > MAX_TARGET_LENGTH:
            pieces.append(f"... (cut at {MAX_TARGET_LENGTH} characters)")
            break
        pieces.append(piece)
    return "".join(pieces)


def mask_credentials(text: str) -> str:
    """``text`` with the userinfo of every URL in it masked: ``https://user:***@host/`` when it has a password,
    else all of it (``https://***@host/``: a user name alone, or with an empty password, is often a token)."""
    return _USERINFO_IN_URL.sub(_masked_userinfo, text) if "@" in text else text


def _masked_userinfo(match: re.Match) -> str:
    user, _, password = match.group(1).partition(":")
    return f"://{user}:{MASK}@" if password else f"://{MASK}@"


def without_userinfo(url: str) -> str:
    """``url`` without its ``user:password@`` part: what is requested."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) if "@" in parts.netloc else url


def normalise_url(text: str) -> str:
    """Return the URL to fetch for ``text``, or raise ``ValueError`` saying why it is unusable."""
    if not text:
        raise ValueError("empty target")
    if len(text) > MAX_TARGET_LENGTH:
        raise ValueError(f"longer than {MAX_TARGET_LENGTH} characters ({len(text)})")
    if "\x00" in text:
        raise ValueError("contains a NUL byte")
    for ch in text:
        if "\ud800" <= ch <= "\udfff":
            raise ValueError(f"contains an undecodable byte or a lone surrogate ({ascii(ch)[1:-1]})")
        if unicodedata.category(ch) == "Cc" and not ch.isspace():
            raise ValueError(f"contains the control character {ascii(ch)[1:-1]}")
    if any(ch.isspace() for ch in text):
        raise ValueError("a target cannot contain white space")
    if "://" not in text:
        text = f"https://{text}"
    try:
        parts = urlsplit(text)
        host, port = parts.hostname, parts.port
    except ValueError as error:
        raise ValueError(f"bad host or port: {error}") from None
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(f"unsupported scheme {parts.scheme!r} (only http and https)")
    host_and_port = parts.netloc.rpartition("@")[2]
    if host_and_port.startswith("[") and host_and_port.partition("]")[2][:1] not in ("", ":"):
        raise ValueError(f"bad host or port: {host_and_port!r} has more after the IPv6 address")  # urlsplit drops it
    if not host:
        raise ValueError("no host name")
    host = _normalise_host(host)
    netloc = host if port is None else f"{host}:{port}"
    if parts.username or parts.password:
        userinfo = parts.netloc.rpartition("@")[0]
        netloc = f"{userinfo}@{netloc}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _normalise_host(host: str) -> str:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{address.compressed}]" if address.version == 6 else address.compressed
    ascii_host = encode_host(host) if _needs_idna(host) else host.lower()
    name = ascii_host.removesuffix(".")  # the root's dot is not part of the 253 characters
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise ValueError(f"{host!r} is not a valid host name")
    return ascii_host


def encode_host(host: str) -> str:
    """The ASCII form of the host name ``host``: IDNA 2008 with UTS 46 non-transitional mapping
    (``faß.de`` is ``xn--fa-hia.de``, not ``fass.de``; ``Bücher.de`` is ``xn--bcher-kva.de``).

    UTS 46 maps compatibility forms to their plain letters (``ⓔⓧⓐⓜⓟⓛⓔ.com`` is ``example.com``,
    as in browsers), but a character it would drop without a trace (a zero-width space, a soft
    hyphen) is refused, as is every name IDNA refuses: ``ValueError`` says why.
    """
    for ch in host:
        if not ch.isascii() and not idna.uts46_remap(ch, std3_rules=False):  # std3_rules as idna.encode's
            raise ValueError(f"{host!r} is not a valid host name: it contains the invisible character U+{ord(ch):04X}")
    try:
        return idna.encode(host, uts46=True).decode("ascii")  # non-transitional: the default (recent idna ignores transitional=True)
    except idna.IDNAError as error:
        raise ValueError(f"{host!r} is not a valid host name: {error}") from None


def with_ascii_host(url: str) -> str:
    """``url`` with its host name in ASCII (``encode_host``) if it is not already; ``ValueError`` says why it cannot be.

    For URLs that did not come from ``parse_target``, such as a redirect's ``Location``."""
    parts = urlsplit(url)
    host = parts.hostname
    if not host or not _needs_idna(host):
        return url
    userinfo, at, host_and_port = parts.netloc.rpartition("@")
    _, colon, port = host_and_port.partition(":")  # an internationalised name is never a bracketed IPv6 address
    netloc = f"{userinfo}{at}{encode_host(host)}{colon}{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _needs_idna(host: str) -> bool:
    """Whether ``host`` is an internationalised name (Unicode, or ASCII with an ``xn--`` label) that IDNA must check."""
    return not host.isascii() or "xn--" in host.lower()
