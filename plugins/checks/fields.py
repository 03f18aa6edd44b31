"""Marshmallow fields the built-in checks share."""

from __future__ import annotations

import re

from marshmallow import ValidationError, fields


class RegularExpression(fields.String):
    """A regular expression.

    Checked when the config is loaded: a pattern that does not compile is a config error naming the key.
    The loaded value is still the pattern's text.
    """

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        try:
            re.compile(text)
        except re.error as error:
            raise ValidationError(f"not a valid regular expression: {error}") from None
        return text
