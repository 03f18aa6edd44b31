"""Base classes for the three kinds of component a plugin can provide: sources, checks and sinks.

Each component type has a ``type_name`` (what a config's ``type:`` says) and an
``Options`` marshmallow schema for the rest of its config entry. The core loads
the options with that schema (unknown keys are errors) and passes the loaded
value to the constructor together with a ``ComponentContext``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator

from marshmallow import Schema

from healthcrawl.records import CheckOutcome, Result, Snapshot, Target

if TYPE_CHECKING:
    from healthcrawl.summary import Summary


class ComponentDisabled(Exception):
    """Raised by a component's constructor when it is switched off or cannot work here.

    The core logs the message and crawls on without that component.
    """


class EmptyOptions(Schema):
    """Options schema of a component that takes no options."""


@dataclass(frozen=True)
class ComponentContext:
    """What a component may need from the crawl besides its own options."""

    base_dir: Path
    """Folder of the config file: relative input paths are resolved against it."""
    run_id: str
    settings: Any
    """The crawl's ``CrawlSettings``."""


@dataclass(frozen=True)
class RunInfo:
    """Identity of a crawl run, given to hooks and sinks."""

    run_id: str
    config_name: str
    started_at: Any
    settings: Any
    resumed: bool = False
    """Whether this run continues an earlier interrupted one (same ``run_id``)."""


class Component:
    """Common part of sources, checks and sinks."""

    type_name: ClassVar[str]
    Options: ClassVar[type[Schema]] = EmptyOptions

    def __init__(self, options: Any, context: ComponentContext):
        self.options = options
        self.context = context


class Source(Component):
    """Yields targets lazily; never materialise the whole list."""

    def targets(self) -> Iterator[Target]:
        """Yield targets one by one (invalid lines as ``Target(invalid=reason)``)."""
        raise NotImplementedError

    def total(self) -> int | None:
        """How many targets there will be, if known cheaply; ``None`` otherwise."""
        return None


class Check(Component):
    """Judges one snapshot. ``name`` defaults to the type name and appears in results."""

    @property
    def name(self) -> str:
        return self.type_name

    def evaluate(self, snapshot: Snapshot) -> CheckOutcome:
        """Return the outcome for ``snapshot``; raising fails only this check."""
        raise NotImplementedError

    def applies_to(self, snapshot: Snapshot) -> bool:
        """Whether to evaluate at all; by default only snapshots without an error."""
        return snapshot.error_kind is None

    def outcome(self, ok: bool, detail: str = "") -> CheckOutcome:
        """Shorthand for a ``CheckOutcome`` named after this check."""
        return CheckOutcome(self.name, ok, detail)


class Sink(Component):
    """Receives results in batches from the single writer greenlet."""

    def open(self, run: RunInfo) -> None:
        """Prepare to receive results (connect, create tables); raise to stop the run before crawling."""

    def write(self, results: list[Result]) -> None:
        """Store one batch of results."""
        raise NotImplementedError

    def close(self, run: RunInfo, summary: "Summary", state: str) -> None:
        """Finish: ``state`` is ``completed``, ``interrupted`` or ``failed``."""


COMPONENT_KINDS: dict[str, type[Component]] = {"source": Source, "check": Check, "sink": Sink}

