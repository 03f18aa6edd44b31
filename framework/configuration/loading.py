"""Loading and validating a crawl config (YAML) into a frozen ``CrawlConfig``.

Sections: ``crawl`` (settings of the crawl itself), ``sources``, ``checks`` and
``sinks`` (lists of ``{type: NAME, ...options}`` entries validated by the options
schema of the registered type). ``${NAME}`` (or ``${NAME:-default}``) in any string
expands from the environment. Every problem is reported with its place, e.g.
``checks[1].min_days: must be at least 0``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml
from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields

from healthcrawl.configuration.settings import CrawlSettings, CrawlSettingsSchema
from healthcrawl.errors import ConfigError, one_line
from healthcrawl.plugin_system.registry import ComponentRegistry, ComponentType

SECTIONS = ("crawl", "sources", "checks", "sinks")
DEFAULT_CHECKS = ({"type": "status"}, {"type": "tls_expiry"})
"""Checks used when a config has no ``checks`` section (an explicit empty list means none)."""

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class _ComponentEntrySchema(Schema):
    """Only reads ``type``; the rest of an entry belongs to the component's own schema."""

    class Meta:
        unknown = EXCLUDE

    type = fields.String(required=True)


@dataclass(frozen=True)
class ComponentSpec:
    """One configured component: its registered type, loaded options and place in the config."""

    type: ComponentType
    options: Any
    place: str
    entry: Mapping[str, Any] = field(default_factory=dict)
    """The entry as written in the config (``${NAME}`` expanded): what a distributed crawl sends to its workers."""


@dataclass(frozen=True)
class CrawlConfig:
    """A validated crawl config."""

    settings: CrawlSettings
    sources: tuple[ComponentSpec, ...]
    checks: tuple[ComponentSpec, ...]
    sinks: tuple[ComponentSpec, ...]
    name: str = "crawl"
    """What runs of this config are called (the config file's path when loaded from one)."""
    base_dir: Path = field(default_factory=Path.cwd)
    """Where relative input paths (such as a ``file`` source's ``path``) are resolved."""


def load_config(path: str | os.PathLike, registry: ComponentRegistry) -> CrawlConfig:
    """Read, expand and validate the YAML config at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError([f"{path}: cannot read: {error.strerror or error}"]) from None
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: not UTF-8 text: {error.reason} at byte {error.start}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError([f"{path}: not valid YAML: {one_line(error)}"]) from None
    return build_config(data, registry, name=str(path), base_dir=path.resolve().parent)


def build_config(
    data: Any, registry: ComponentRegistry, *, name: str = "crawl", base_dir: Path | None = None
) -> CrawlConfig:
    """Validate a config given as plain data (what the YAML file holds)."""
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(["config: must be a mapping with sections " + ", ".join(SECTIONS)])
    problems: list[str] = []
    data = _expand_environment(data, "", problems)
    for key in data:
        if key not in SECTIONS:
            problems.append(f"{key}: unknown section (expected one of {', '.join(SECTIONS)})")

    settings = CrawlSettings()
    try:
        settings = CrawlSettingsSchema().load(data.get("crawl") or {})
    except ValidationError as error:
        problems.extend(format_messages(error.messages, "crawl"))

    if not data.get("sources"):
        problems.append("sources: at least one source is required")
    sections = {
        kind: load_components(kind, section, data.get(section, default), registry, problems)
        for kind, section, default in (
            ("source", "sources", []),
            ("check", "checks", list(DEFAULT_CHECKS)),
            ("sink", "sinks", []),
        )
    }
    if problems:
        raise ConfigError(problems)
    return CrawlConfig(
        settings=settings,
        sources=sections["source"],
        checks=sections["check"],
        sinks=sections["sink"],
        name=name,
        base_dir=base_dir or Path.cwd(),
    )


def load_components(
    kind: str, section: str, entries: Any, registry: ComponentRegistry, problems: list[str]
) -> tuple[ComponentSpec, ...]:
    """Validate the ``{type: ..., ...}`` entries of one section; each problem is appended to ``problems``."""
    if entries is None:
        entries = []
    if not isinstance(entries, list):
        problems.append(f"{section}: must be a list of {{type: ...}} entries")
        return ()
    specs = []
    for index, entry in enumerate(entries):
        place = f"{section}[{index}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{place}: must be a mapping with a 'type' key")
            continue
        try:
            type_name = _ComponentEntrySchema().load(entry)["type"]
        except ValidationError as error:
            problems.extend(format_messages(error.messages, place))
            continue
        component_type = registry.get(kind, type_name)
        if component_type is None:
            known = ", ".join(registry.names(kind)) or "none"
            problems.append(f"{place}.type: unknown {kind} type {type_name!r} (known: {known})")
            continue
        options = {k: v for k, v in entry.items() if k != "type"}
        try:
            loaded = component_type.cls.Options(unknown=RAISE).load(options)
        except ValidationError as error:
            problems.extend(format_messages(error.messages, place))
            continue
        specs.append(ComponentSpec(component_type, loaded, place, dict(entry)))
    return tuple(specs)


def format_messages(messages: Any, place: str) -> list[str]:
    """Flatten marshmallow's ``ValidationError.messages`` into ``place.key: message`` lines."""
    if isinstance(messages, Mapping):
        lines = []
        for key, value in messages.items():
            if key == "_schema":
                child = place
            elif isinstance(key, int):
                child = f"{place}[{key}]"
            else:
                child = f"{place}.{key}" if place else str(key)
            lines.extend(format_messages(value, child))
        return lines
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{place}: {_sentence(m)}" for m in messages]
    if isinstance(messages, list):
        return [line for m in messages for line in format_messages(m, place)]
    return [f"{place}: {_sentence(str(messages))}"]


def _sentence(message: str) -> str:
    if message == "Unknown field.":
        return "unknown key"
    message = message.rstrip(".")
    return message[:1].lower() + message[1:]


def _expand_environment(value: Any, place: str, problems: list[str]) -> Any:
    """Replace ``${NAME}`` and ``${NAME:-default}`` in every string of ``value``."""
    if isinstance(value, str):

        def substitute(match: re.Match) -> str:
            name, default = match.group(1), match.group(2)
            if name in os.environ:
                return os.environ[name]
            if default is not None:
                return default
            problems.append(f"{place or 'config'}: environment variable {name} is not set")
            return match.group(0)

        return _ENV_REFERENCE.sub(substitute, value)
    if isinstance(value, Mapping):
        return {k: _expand_environment(v, f"{place}.{k}" if place else str(k), problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_environment(v, f"{place}[{i}]", problems) for i, v in enumerate(value)]
    return value
