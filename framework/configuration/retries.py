"""``crawl.retries``: which failures count as transient, how often and how soon a target is fetched again."""

from __future__ import annotations

from dataclasses import dataclass

from marshmallow import RAISE, Schema, fields, post_load, validate

from healthcrawl.configuration.numbers import WholeNumber, bounded_integer, bounded_number
from healthcrawl.records import ERROR_KINDS


@dataclass(frozen=True)
class RetrySettings:
    """Retry a target whose fetch ended in a transient error kind or status code, up to ``attempts`` fetches in all.

    The wait before attempt n+1 is ``backoff * 2**(n-1)`` seconds (and at least the host's
    ``per_host_delay``). With ``within_deadline`` every attempt and wait shares the target's
    one ``crawl.timeout`` deadline; otherwise each attempt gets its own.
    """

    attempts: int = 1
    on_error_kinds: tuple[str, ...] = ("connect_refused", "connect_timeout", "connect_error", "connection_reset", "timeout")
    on_status: tuple[int, ...] = (502, 503, 504)
    backoff: float = 0.5
    within_deadline: bool = True

    def is_transient(self, error_kind: str | None, status_code: int | None) -> bool:
        """Whether a fetch that ended so is worth another attempt."""
        if error_kind is not None:
            return error_kind in self.on_error_kinds
        return status_code in self.on_status

    def wait_before(self, attempt: int) -> float:
        """Seconds to wait before fetching attempt number ``attempt`` (2, 3, ...)."""
        return self.backoff * 2 ** (attempt - 2)


def _default(name: str):
    value = RetrySettings.__dataclass_fields__[name].default
    return list(value) if isinstance(value, tuple) else value


class RetrySettingsSchema(Schema):
    """Schema of ``crawl.retries``."""

    class Meta:
        unknown = RAISE

    attempts = bounded_integer(
        1, 100, load_default=_default("attempts"),
        metadata={"description": "Fetches per target at most, the first included (1: no retry)."},
    )
    on_error_kinds = fields.List(
        fields.String(validate=validate.OneOf(ERROR_KINDS, error="must be one of: {choices}")),
        load_default=_default("on_error_kinds"),
        metadata={"description": "Error kinds that are retried."},
    )
    on_status = fields.List(
        WholeNumber(validate=validate.Range(min=100, max=599, error="must be a status code (100-599)")),
        load_default=_default("on_status"),
        metadata={"description": "Status codes of the final response that are retried."},
    )
    backoff = bounded_number(
        0, 3600, load_default=_default("backoff"),
        metadata={"description": "Seconds before the second attempt; doubled before each further one."},
    )
    within_deadline = fields.Boolean(
        load_default=_default("within_deadline"),
        metadata={"description": "true: all attempts share the target's crawl.timeout; false: each attempt has its own."},
    )

    @post_load
    def make_settings(self, data, **kwargs) -> RetrySettings:
        return RetrySettings(**{**data, "on_error_kinds": tuple(data["on_error_kinds"]), "on_status": tuple(data["on_status"])})
