"""What is sent for each target: ``crawl.request``, overridden per source (``request:``) and per target.

``RequestSpec`` is the whole request (method, headers, body, auth, client certificate,
whether redirects are followed). The crawl-wide one is ``CrawlSettings.request``; a source's
``request:`` option and a target's own fields (``method``, ``headers``, ``body``,
``follow_redirects``: CSV or SQL columns) override parts of it. Overrides are loaded with the
same schema, so a bad header is a config error in the config and an ``invalid_target``
result in a column. The effective spec is worked out where targets are fetched (workers).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
import ssl
from dataclasses import dataclass, field
from typing import Any, Mapping

from marshmallow import RAISE, Schema, ValidationError, fields, post_load, validate, validates_schema

from healthcrawl.target_parsing import MASK

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
TARGET_FIELDS = ("method", "headers", "body", "follow_redirects")
"""Per-target fields (columns) that override the request spec."""

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
"""Header values a stored or shown request spec masks."""
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")


@dataclass(frozen=True)
class RequestSpec:
    """One request as configured. ``auth`` is ``("basic", user, password)`` or ``("bearer", token)``."""

    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    auth: tuple[str, ...] | None = field(default=None, repr=False)
    client_cert: str | None = None
    client_key: str | None = None
    follow_redirects: bool = True

    def overridden(self, overrides: Mapping[str, Any]) -> "RequestSpec":
        """This spec with ``overrides`` (loaded by ``RequestSpecSchema``) applied; headers are merged by name."""
        if not overrides:
            return self
        changes = dict(overrides)
        if "headers" in changes:
            replaced = {name.lower() for name, _ in changes["headers"]}
            changes["headers"] = tuple(h for h in self.headers if h[0].lower() not in replaced) + changes["headers"]
        return dataclasses.replace(self, **changes)

    def request_headers(self) -> dict[str, str]:
        """The configured headers, plus ``Authorization: Bearer ...`` for a bearer token."""
        headers = dict(self.headers)
        if self.auth is not None and self.auth[0] == "bearer":
            headers.setdefault("Authorization", f"Bearer {self.auth[1]}")
        return headers

    def to_record(self) -> dict[str, Any]:
        """This spec as JSON-ready data with its secrets masked: what may be stored or shown."""
        auth = None
        if self.basic_auth is not None:
            auth = {"type": "basic", "username": self.basic_auth[0], "password": MASK}
        elif self.auth is not None:
            auth = {"type": "bearer", "token": MASK}
        return {
            "method": self.method,
            "headers": {name: MASK if name.lower() in SECRET_HEADERS else value for name, value in self.headers},
            "body": None if self.body is None else self.body.decode("utf-8", "replace"),
            "auth": auth,
            "client_cert": self.client_cert,
            "client_key": self.client_key,
            "follow_redirects": self.follow_redirects,
        }

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        """``(user, password)`` for basic auth, else ``None``."""
        return (self.auth[1], self.auth[2]) if self.auth is not None and self.auth[0] == "basic" else None


class HeadersField(fields.Field):
    """mapping of header names to values

    In a column: ``Name: value`` lines or a JSON object. Names must be HTTP tokens; a value
    with CR or LF is refused (it would split the request).
    """

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, str):
            value = _header_lines(value)
        if not isinstance(value, Mapping):
            raise ValidationError('must be a mapping of header names to values, e.g. {"Accept": "application/json"}')
        headers = []
        for name, text in value.items():
            if not isinstance(name, str) or not _TOKEN.match(name):
                raise ValidationError(f"{name!r} is not a valid header name")
            if isinstance(text, bool) or not isinstance(text, (str, int, float)):
                raise ValidationError(f"header {name}: the value must be text")
            text = str(text)
            problem = header_value_problem(text)
            if problem:
                raise ValidationError(f"header {name}: the value {problem}")
            headers.append((name, text))
        return tuple(headers)


_CONTROL_CHARACTER = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def header_value_problem(text: str) -> str | None:
    """Why ``text`` cannot be sent as a header value (``"contains a line break (CR or LF)"``), or ``None``.

    Refused: CR or LF (they would split the request), other control characters (tab is allowed),
    leading whitespace and characters outside Latin-1, all of which requests or http.client refuse
    when sending.
    """
    if "\r" in text or "\n" in text:
        return "contains a line break (CR or LF)"
    control = _CONTROL_CHARACTER.search(text)
    if control:
        return f"contains the control character {control.group()!r}"
    if text[:1].isspace():
        return "starts with whitespace"
    if not text.isascii():
        try:
            text.encode("latin-1")
        except UnicodeEncodeError as error:
            return f"contains {text[error.start]!r}, which is not Latin-1 (a header is Latin-1 text)"
    return None


def check_header_value(text: str) -> None:
    """A marshmallow validator: a ``ValidationError`` when ``text`` cannot be sent as a header value."""
    problem = header_value_problem(text)
    if problem:
        raise ValidationError(problem)


def _header_lines(text: str) -> Mapping[str, str]:
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except ValueError as error:
            raise ValidationError(f"not a JSON object of headers: {error}") from None
    headers = {}
    for line in filter(None, (line.strip() for line in text.splitlines())):
        name, colon, value = line.partition(":")
        if not colon:
            raise ValidationError(f"{line!r} is not a 'Name: value' header line")
        headers[name.strip()] = value.strip()
    return headers


class JsonValue(fields.Raw):
    """any JSON value"""


class AuthSchema(Schema):
    """``{type: basic, username, password}`` or ``{type: bearer, token}`` (use ``${ENV}`` for secrets)."""

    class Meta:
        unknown = RAISE

    type = fields.String(
        required=True,
        validate=validate.OneOf(("basic", "bearer"), error="must be basic or bearer"),
        metadata={"description": "basic (username and password) or bearer (token)."},
    )
    username = fields.String(metadata={"description": "Basic auth user name."})
    password = fields.String(load_default="", metadata={"description": "Basic auth password, e.g. ${PASSWORD}."})
    token = fields.String(metadata={"description": "Bearer token, e.g. ${TOKEN}: sent as Authorization: Bearer TOKEN."})

    @validates_schema
    def has_what_its_type_needs(self, data, **kwargs):
        if data.get("type") == "basic" and "username" not in data:
            raise ValidationError("basic auth needs a username", "username")
        if data.get("type") == "bearer" and not data.get("token"):
            raise ValidationError("bearer auth needs a token", "token")

    @post_load
    def as_tuple(self, data, **kwargs):
        if data["type"] == "basic":
            return ("basic", data["username"], data["password"])
        return ("bearer", data["token"])


class RequestSpecSchema(Schema):
    """The ``request`` options; only the keys given are loaded, so the result overrides a spec."""

    class Meta:
        unknown = RAISE

    method = fields.String(
        validate=validate.OneOf(METHODS, error="must be one of: {choices}"),
        metadata={"description": "HTTP method: " + ", ".join(METHODS) + " (default GET)."},
    )
    headers = HeadersField(metadata={"description": "Headers sent with every request (they replace defaults such as User-Agent)."})
    body = fields.String(metadata={"description": "Request body, as text (UTF-8)."})
    json = JsonValue(metadata={"description": "Request body as JSON (sets Content-Type: application/json); excludes body."})
    auth = fields.Nested(
        AuthSchema,
        metadata={"description": "{type: basic, username, password} or {type: bearer, token}; never sent to another host."},
    )
    client_cert = fields.String(
        metadata={"description": "Path of a PEM client certificate (mTLS), which may hold the key too; relative to the working directory."}
    )
    client_key = fields.String(metadata={"description": "PEM private key of client_cert, when it is a separate file."})
    follow_redirects = fields.Boolean(
        metadata={"description": "Follow redirects (default true); false: checks judge the first response."}
    )

    @validates_schema
    def one_body(self, data, **kwargs):
        if "body" in data and "json" in data:
            raise ValidationError("give body or json, not both", "json")

    @validates_schema
    def client_certificate_loads(self, data, **kwargs):
        if "client_key" in data and "client_cert" not in data:
            raise ValidationError("client_key needs client_cert", "client_key")
        if "client_cert" in data:
            try:
                _check_key_pair(data["client_cert"], data.get("client_key"))
            except (OSError, ssl.SSLError) as error:
                raise ValidationError(f"cannot load the client certificate: {error}", "client_cert") from None

    @post_load
    def normalise(self, data, **kwargs):
        if "json" in data:
            data["body"] = json.dumps(data.pop("json")).encode()
            if not any(name.lower() == "content-type" for name, _ in data.get("headers", ())):
                data["headers"] = data.get("headers", ()) + (("Content-Type", "application/json"),)
        elif "body" in data:
            data["body"] = data["body"].encode()
        return data

    def load(self, data, *args, **kwargs):
        if isinstance(data, Mapping) and isinstance(data.get("method"), str):
            data = {**data, "method": data["method"].upper()}  # OneOf compares upper case
        return super().load(data, *args, **kwargs)


class RequestSpecField(fields.Nested):
    """mapping

    ``crawl.request`` or a source's ``request:`` option: a nested ``RequestSpecSchema``.
    """

    def __init__(self, **kwargs):
        kwargs.setdefault("metadata", {"description": "What is sent for this source's targets: overrides parts of crawl.request."})
        super().__init__(RequestSpecSchema, **kwargs)


def _check_key_pair(cert: str, key: str | None) -> None:
    ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT).load_cert_chain(cert, key)


def target_overrides(values: Mapping[str, Any]) -> Mapping[str, Any]:
    """The request overrides in a target's fields, loaded; raises ``ValueError`` naming the bad field."""
    present = tuple((name, values[name]) for name in TARGET_FIELDS if values.get(name) not in (None, ""))
    if not present:
        return {}
    try:
        return _load_target_overrides_cached(present)
    except TypeError:  # an unhashable value (a JSON column of a database): load it uncached
        return _load_target_overrides(present)


@functools.lru_cache(maxsize=1024)
def _load_target_overrides_cached(items: tuple[tuple[str, Any], ...]) -> Mapping[str, Any]:
    """Targets of one list repeat their overrides: load each combination once."""
    return _load_target_overrides(items)


def _load_target_overrides(items: tuple[tuple[str, Any], ...]) -> Mapping[str, Any]:
    try:
        return RequestSpecSchema().load(dict(items))
    except ValidationError as error:
        place, messages = next(iter(error.messages.items()))
        raise ValueError(f"{place}: {' '.join(map(str, messages))}") from None
