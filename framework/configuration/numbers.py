"""Bounded numbers for option schemas: the one way a numeric setting declares its range.

``bounded_integer(1, 100_000, ...)`` and ``bounded_number(0, 3600, ...)`` are marshmallow fields
whose value must lie in the range; the generated reference shows it. Integers are strict: ``1.5``
and ``true`` are not integers (a string of digits is, so that ``${NAME}`` can give a number).
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import ValidationError, fields
from marshmallow import validate as validators

_DIGITS = re.compile(r"^[+-]?[0-9]{1,30}$")


class Bounds(validators.Range):
    """A ``Range`` whose message says which end was crossed: ``must be at least 1`` or ``must be at most 100``
    (``more than`` / ``less than`` for an end that is excluded)."""

    def __call__(self, value: Any) -> Any:
        if self.min is not None and (value < self.min if self.min_inclusive else value <= self.min):
            raise ValidationError(f"must be {'at least' if self.min_inclusive else 'more than'} {self.min}")
        if self.max is not None and (value > self.max if self.max_inclusive else value >= self.max):
            raise ValidationError(f"must be {'at most' if self.max_inclusive else 'less than'} {self.max}")
        return value


def at_least(minimum: float) -> validators.Range:
    """A ``Range`` validator whose message reads ``must be at least N`` (prefer ``bounded_integer``/``bounded_number``,
    which also set a maximum)."""
    return Bounds(min=minimum)


class WholeNumber(fields.Integer):
    """integer

    Strict: an int, or a string of digits (what ``${NAME}`` expands to); never a float or a boolean.
    """

    def _validated(self, value: Any) -> int:
        if isinstance(value, str) and _DIGITS.match(value.strip()):
            return int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValidationError("must be a whole number")
        return value


def bounded_integer(minimum: int, maximum: int, *, validate: Any = (), **kwargs: Any) -> WholeNumber:
    """A strict integer field whose value must be from ``minimum`` to ``maximum`` (both included);
    ``validate`` adds validators (e.g. a ``OneOf``)."""
    extra = [validate] if callable(validate) else list(validate)
    return WholeNumber(validate=[Bounds(min=minimum, max=maximum), *extra], **kwargs)


def bounded_number(minimum: float, maximum: float, *, above: bool = False, **kwargs: Any) -> fields.Float:
    """A finite number field from ``minimum`` (excluded with ``above=True``) to ``maximum`` (included)."""
    return fields.Float(validate=Bounds(min=minimum, max=maximum, min_inclusive=not above), **kwargs)
