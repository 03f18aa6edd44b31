"""Base classes for what a plugin provides: sources, checks and sinks (components), and commands.

Each component type has a ``type_name`` (what a config's ``type:`` says) and an ``Options``
marshmallow schema for the rest of its config entry. The core loads the options with that
schema (unknown keys are errors) and builds the component with ``Type.from_config(options,
context)``; code that needs a component without a config (a test, the CLI's progress bar)
calls the constructor directly.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Iterator

from marshmallow import Schema

from healthcrawl.configuration.settings import CrawlSettings
from healthcrawl.records import CheckOutcome, Result, Snapshot, Target

if TYPE_CHECKING:
    from typing import Self

    from healthcrawl.crawl.resume import Resume
    from healthcrawl.summary import Summary


class ComponentDisabled(Exception):
    """Raised by a component's constructor when it is switched off or cannot work here.

    The core logs the message and crawls on without that component.
    """


class EmptyOptions(Schema):
    """Options schema of a component that takes no options."""


@dataclass(frozen=True)
class ComponentContext:
    """What a component built from a config may need besides its own options."""

    base_dir: Path
    """Folder of the config file: relative input paths are resolved against it."""
    run_id: str
    settings: CrawlSettings
    """The crawl's ``crawl`` section."""
    output_dir: Path | None = None
    """Where relative output paths are resolved; ``None`` (the default) means ``base_dir``."""

    def output_path(self, path: str | Path) -> Path:
        """``path`` (an output file or folder) resolved against ``output_dir``, else the config's folder."""
        return (self.output_dir or self.base_dir) / path


@dataclass(frozen=True)
class RunInfo:
    """Identity of a crawl run, given to hooks and sinks."""

    run_id: str
    config_name: str
    started_at: datetime
    settings: CrawlSettings
    resumed: bool = False
    """Whether this run continues an earlier interrupted one (same ``run_id``)."""


class Component:
    """Common part of sources, checks and sinks.

    ``options`` is what ``Options`` loaded from the config entry; ``context`` is ``None`` for a
    component built in code rather than from a config.
    """

    type_name: ClassVar[str]
    Options: ClassVar[type[Schema]] = EmptyOptions

    def __init__(self, options: Any = None, context: ComponentContext | None = None):
        self.options = {} if options is None else options
        self.context = context

    @classmethod
    def from_config(cls, options: Any, context: ComponentContext) -> "Self":
        """Build the component for one config entry (``options`` as its ``Options`` loaded them).

        Override it to check, before anything is crawled, what needs the context (a file
        that must exist); raise ``ConfigError`` or ``ComponentDisabled`` from here.
        """
        return cls(options, context)


class Source(Component):
    """Yields targets lazily; never materialise the whole list.

    A source must yield the same targets in the same order each time it is read while its
    input is unchanged: ``run --resume`` skips targets by their position (``Target.seq``).
    """

    def targets(self) -> Iterator[Target]:
        """Yield targets one by one (invalid lines as ``Target(invalid=reason)``)."""
        raise NotImplementedError

    def total(self) -> int | None:
        """How many targets there will be, if known cheaply; ``None`` otherwise."""
        return None


class Check(Component):
    """Judges one snapshot. ``name`` (the config entry's ``name:``, else the type name) appears in results.

    Checks run where targets are fetched: in the worker processes of a multi-worker crawl.
    """

    configured_name: str | None = None
    """The config entry's name, set by the core after building the check; ``None``: the type name."""

    @property
    def name(self) -> str:
        return self.configured_name or self.type_name

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
    """Receives results in batches from the single writer greenlet, in the parent process."""

    def open(self, run: RunInfo) -> None:
        """Prepare to receive results (connect, create tables); raise to stop the run before crawling."""

    def write(self, results: list[Result]) -> None:
        """Store one batch of results."""
        raise NotImplementedError

    def close(self, run: RunInfo, summary: "Summary", state: str) -> None:
        """Finish: ``state`` is ``completed``, ``interrupted`` or ``failed``."""

    def probe(self) -> None:
        """Check that the destination can be reached, writing nothing; raise to say why not.

        ``healthcrawl validate --connect`` calls it on a sink built from the config; the default does nothing.
        """

    @classmethod
    def find_resume(cls, options: Any, config_name: str, run_id: str | None) -> "Resume | None":
        """For ``run --resume``: the run to continue and the sequence numbers it has results for.

        ``options`` are the sink's loaded options; ``run_id`` is the run (or a unique prefix) the
        user named, else ``None``: the latest unfinished run of ``config_name``. ``None`` (the
        default) means this sink type keeps no results to resume from; raise ``CommandFailed``
        when it does but there is nothing to resume. Called before any sink is built.
        """
        return None


COMPONENT_KINDS: dict[str, type[Component]] = {"source": Source, "check": Check, "sink": Sink}


class Command:
    """A ``healthcrawl`` subcommand that a plugin adds through ``healthcrawl_register_commands``."""

    name: ClassVar[str]
    """What follows ``healthcrawl`` on the command line."""
    help: ClassVar[str]
    """One line for ``healthcrawl --help``."""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declare the command's arguments on its own ``parser``."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the work and return the exit code; raise ``CommandFailed`` (exit 1) or ``ConfigError`` (exit 2)."""
        raise NotImplementedError
