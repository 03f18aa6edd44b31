"""The request about to be sent for a target, as ``healthcrawl_prepare_request`` hooks see it."""

from __future__ import annotations

from dataclasses import dataclass, field

from healthcrawl.records import Target


@dataclass
class OutgoingRequest:
    """The request about to be sent for a target; ``prepare_request`` hooks may change it."""

    target: Target
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    auth: tuple[str, str] | None = None
