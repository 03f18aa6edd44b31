"""Turning a line of a target list into a ``Target``: a URL, or a bare domain meaning ``https://domain/``.

Credentials in a URL (``https://user:secret@host/``) become the target's basic auth and
never its ``url``: that shows them masked (``https://user:***@host/``), and so does every
record, log line and error that names the target.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

from healthcrawl.records import Target

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
_SCHEMES = ("http", "https")
_PASSWORD_IN_URL = re.compile(r"(://[^/\s:@]*):[^/\s]*@")
MASK = "***"


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
        return Target(url=mask_credentials(text), fields=fields, invalid=mask_credentials(str(reason)), request=request)
    parts = urlsplit(url)
    if parts.username is None:
        return Target(url=url, fields=fields, request=request)
    auth = ("basic", unquote(parts.username), unquote(parts.password or ""))
    return Target(url=mask_credentials(url), fields=fields, request={**(request or {}), "auth": auth})


def mask_credentials(text: str) -> str:
    """``text`` with the password of every URL in it replaced by ``***`` (``https://user:***@host/``)."""
    return _PASSWORD_IN_URL.sub(rf"\1:{MASK}@", text) if "@" in text else text


def without_userinfo(url: str) -> str:
    """``url`` without its ``user:password@`` part: what is requested."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2])) if "@" in parts.netloc else url


def normalise_url(text: str) -> str:
    """Return the URL to fetch for ``text``, or raise ``ValueError`` saying why it is unusable."""
    if not text:
        raise ValueError("empty target")
    if any(ch.isspace() for ch in text):
        raise ValueError("a target cannot contain white space")
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(f"unsupported scheme {parts.scheme!r} (only http and https)")
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as error:
        raise ValueError(f"bad host or port: {error}") from None
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
    try:
        ascii_host = host.encode("idna").decode("ascii") if not host.isascii() else host.lower()
    except UnicodeError:
        raise ValueError(f"{host!r} is not a valid host name") from None
    labels = ascii_host.rstrip(".").split(".")
    if len(ascii_host) > 253 or not all(_LABEL.match(label) for label in labels):
        raise ValueError(f"{host!r} is not a valid host name")
    return ascii_host
