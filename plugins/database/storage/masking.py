"""Keeping secrets out of what is stored: settings are masked before they reach the ``runs`` table.

Two kinds of value are masked: the password of every URL in a string (``http://user:***@proxy``,
``healthcrawl.target_parsing.mask_credentials``), wherever it appears, and every option whose
schema field is marked ``metadata={"secret": True}``.
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields

from healthcrawl.target_parsing import MASK, mask_credentials


def mask_secrets(values: Any, schema: Schema | None = None) -> Any:
    """``values`` (options as loaded, or their JSON form) with secrets masked; ``schema`` says which options
    are marked secret (nested schemas and lists are followed)."""
    if isinstance(values, str):
        return mask_credentials(values)
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
