"""The request about to be sent for a target, as ``healthcrawl_prepare_request`` hooks see it."""

from __future__ import annotations

from dataclasses import dataclass, field

from healthcrawl.records import Target


@dataclass
class OutgoingRequest:
    """The request about to be sent for a target (one per redirect hop); ``prepare_request`` hooks may change it.

    ``auth`` is basic auth (user, password); ``headers`` are added to the transport's defaults.
    """

    target: Target
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = field(default=None, repr=False)
    method: str = "GET"
    body: bytes | None = None
