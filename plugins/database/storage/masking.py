"""Keeping secrets out of what is stored: settings are masked before they reach the ``runs`` table.

Two kinds of value are masked: the userinfo of every URL that has one (``http://user:***@proxy``,
``https://***@host`` for a user alone, often a token), wherever it appears, and every option whose schema field is marked ``metadata={"secret": True}``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from marshmallow import Schema, fields

MASK = "***"


def mask_url(text: str) -> str:
    """``text`` with the userinfo of its URL masked, if it is a URL with one: the password
    (``user:***@host``), or a user alone, which may well be a token (``***@host``). Anything else is unchanged."""
    if "@" not in text or "://" not in text:
        return text
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    userinfo, at, host = parts.netloc.rpartition("@")
    if not at:
        return text
    name, colon, _ = userinfo.partition(":")
    masked = f"{name}:{MASK}" if colon else MASK
    return urlunsplit(parts._replace(netloc=f"{masked}@{host}"))


def mask_secrets(values: Any, schema: Schema | None = None) -> Any:
    """``values`` (options as loaded, or their JSON form) with secrets masked; ``schema`` says which options
    are marked secret (nested schemas and lists are followed)."""
    if isinstance(values, str):
        return mask_url(values)
    if isinstance(values, (list, tuple)):
        return [mask_secrets(value, schema) for value in values]
    if not isinstance(values, dict):
        return values
    declared = schema.fields if schema is not None else {}
    masked = {}
    for key, value in values.items():
        field = declared.get(key)
        if field is not None and field.metadata.get("secret") and value is not None:
            masked[key] = MASK
        else:
            masked[key] = mask_secrets(value, _inner_schema(field))
    return masked


def _inner_schema(field: fields.Field | None) -> Schema | None:
    if isinstance(field, fields.List):
        field = field.inner
    if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
        return field.schema
    return None
