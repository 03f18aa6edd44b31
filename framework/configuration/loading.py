"""Loading and validating a crawl config (YAML) into a frozen ``CrawlConfig``.

Sections: ``crawl`` (settings of the crawl itself), ``sources``, ``checks`` and
``sinks`` (lists of ``{type: NAME, ...options}`` entries validated by the options
schema of the registered type); a check entry may also have a ``name`` (default: its type),
unique among the checks, that its outcomes carry (a check type whose own options have a
``name`` keeps that key, and its checks keep the type's name). ``${NAME}`` (or
``${NAME:-default}``) in any string expands from the environment. Every problem is reported with its place, e.g.
``checks[1].min_days: must be at least 0``; an unknown key or section name gets a "did you mean"
when a known one is close.
"""

from __future__ import annotations

import difflib
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields

from healthcrawl.configuration.settings import CrawlSettings, CrawlSettingsSchema
from healthcrawl.configuration.yaml_reading import read_yaml_config
from healthcrawl.errors import ConfigError, one_line
from healthcrawl.plugin_system.components import ComponentContext, ComponentDisabled
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.plugin_system.registry import ComponentRegistry, ComponentType

log = logging.getLogger("healthcrawl")

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
    name: str | None = None
    """A check's name (its ``name:`` key, else its type name); ``None`` for sources and sinks."""
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
    crawl_entry: Mapping[str, Any] = field(default_factory=dict)
    """The ``crawl`` section as written (``${NAME}`` expanded): what a distributed crawl sends its workers."""
    output_dir: Path | None = None
    """Where relative output paths (a ``jsonl`` file, a ``sqlite:///`` database, a spool folder) are
    resolved; ``None`` means ``base_dir``. ``healthcrawl examples run`` sets the current folder."""

    @property
    def outputs_dir(self) -> Path:
        """The folder relative output paths are resolved against."""
        return self.output_dir or self.base_dir


def load_config(path: str | os.PathLike, registry: ComponentRegistry | None = None) -> CrawlConfig:
    """Read, expand and validate the YAML config at ``path`` (types from ``registry``, by default every
    installed plugin's)."""
    path = Path(path)
    data = read_yaml_config(path)
    return build_config(data, registry, name=str(path), base_dir=path.resolve().parent)


def build_config(
    data: Any, registry: ComponentRegistry | None = None, *, name: str = "crawl", base_dir: Path | None = None
) -> CrawlConfig:
    """Validate a config given as plain data (what the YAML file holds); types come from ``registry``,
    by default every installed plugin's."""
    if registry is None:
        registry = ComponentRegistry.from_plugins(get_plugin_manager())
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise ConfigError(["config: must be a mapping with sections " + ", ".join(SECTIONS)])
    problems: list[str] = []
    data = _expand_environment(data, "", problems)
    for key in data:
        if key not in SECTIONS:
            hint = did_you_mean(str(key), SECTIONS)
            problems.append(f"{key}: unknown section{hint} (expected one of {', '.join(SECTIONS)})")

    settings = CrawlSettings()
    settings_schema = CrawlSettingsSchema()
    try:
        settings = settings_schema.load(data.get("crawl") or {})
    except ValidationError as error:
        problems.extend(format_messages(error.messages, "crawl", settings_schema))

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
        crawl_entry=dict(data.get("crawl") or {}),
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
    named: dict[str, str] = {}  # check name -> place of the check that has it
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
            names = registry.names(kind)
            hint = did_you_mean(type_name, names)
            known = ", ".join(names) or "none"
            problems.append(f"{place}.type: unknown {kind} type {type_name!r}{hint} (known: {known})")
            continue
        schema = component_type.cls.Options(unknown=RAISE)
        # A check's name is the core's key, unless the check's own options have a "name" (older plugins).
        nameable = kind == "check" and "name" not in schema.fields
        options = {k: v for k, v in entry.items() if k != "type" and not (nameable and k == "name")}
        name = None
        if kind == "check":
            name = _check_name(entry if nameable else {}, type_name, place, named, problems)
        try:
            loaded = schema.load(options)
        except ValidationError as error:
            problems.extend(format_messages(error.messages, place, schema))
            continue
        specs.append(ComponentSpec(component_type, loaded, place, name, dict(entry)))
    return tuple(specs)


def _check_name(entry: Mapping, type_name: str, place: str, named: dict[str, str], problems: list[str]) -> str:
    """A check entry's name (``name:``, else its type), noted in ``named``; a problem when it is empty or taken."""
    name = entry.get("name", type_name)
    if not isinstance(name, str) or not name.strip():
        problems.append(f"{place}.name: must be a non-empty string")
        return type_name
    if name in named:
        hint = "" if "name" in entry else " (its type's default name); give one of them a name"
        problems.append(f"{place}.name: duplicate check name {name!r}, {named[name]} has it{hint}")
    named.setdefault(name, place)
    return name


def format_messages(messages: Any, place: str, schema: Schema | None = None) -> list[str]:
    """Flatten marshmallow's ``ValidationError.messages`` into ``place.key: message`` lines.

    With the ``schema`` that raised them, an unknown key gets a "did you mean" naming a close known key.
    """
    if isinstance(messages, Mapping):
        lines = []
        for key, value in messages.items():
            if key == "_schema":
                child = place
            elif isinstance(key, int):
                child = f"{place}[{key}]"
            else:
                child = f"{place}.{key}" if place else str(key)
            if value == [_UNKNOWN_FIELD] and schema is not None:
                lines.append(f"{child}: unknown key{did_you_mean(str(key), _keys(schema))}")
            else:
                lines.extend(format_messages(value, child, _nested_schema(schema, key)))
        return lines
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return [f"{place}: {_sentence(m)}" for m in messages]
    if isinstance(messages, list):
        return [line for m in messages for line in format_messages(m, place)]
    return [f"{place}: {_sentence(str(messages))}"]


def did_you_mean(name: str, known) -> str:
    """`` (did you mean 'X'?)`` when a name in ``known`` is close to ``name``, else ``""``."""
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


_UNKNOWN_FIELD = "Unknown field."


def _keys(schema: Schema) -> list[str]:
    return [field.data_key or name for name, field in schema.fields.items()]


def _nested_schema(schema: Schema | None, key: Any) -> Schema | None:
    """The schema of the nested section ``key`` of ``schema``, if it is one."""
    if schema is None or not isinstance(key, str):
        return None
    field = next((f for name, f in schema.fields.items() if (f.data_key or name) == key), None)
    nested = getattr(field, "schema", None)
    return nested if isinstance(nested, Schema) else None


def _sentence(message: str) -> str:
    """marshmallow's ``Not a valid integer.`` as ``not a valid integer``; a message that starts with a value
    (``REDISS://host: ...``, ``URL ...``) keeps its case."""
    if message == _UNKNOWN_FIELD:
        return "unknown key"
    message = message.rstrip(".")
    first_word = message.split(" ", 1)[0]
    return message[:1].lower() + message[1:] if first_word[1:].islower() or len(first_word) == 1 else message


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


def build_components(specs: Iterable[ComponentSpec], context: ComponentContext) -> list:
    """Build each configured component with ``Type.from_config``; a ``ComponentDisabled`` one is logged and left out.

    Any other exception from a constructor stops the run with a ``ConfigError`` naming the plugin.
    """
    components = []
    for spec in specs:
        try:
            component = spec.type.cls.from_config(spec.options, context)
            if spec.name is not None:
                component.configured_name = spec.name
            components.append(component)
        except ComponentDisabled as reason:
            log.warning("%s (%s) is disabled: %s", spec.place, spec.type.name, reason)
        except ConfigError as error:
            raise ConfigError([f"{spec.place}: {problem}" for problem in error.problems]) from None
        except Exception as error:
            raise ConfigError([
                f"{spec.place}: {spec.type.kind} type {spec.type.name!r} of plugin {spec.type.plugin!r} "
                f"failed to start: {type(error).__name__}: {one_line(error)}"
            ]) from error
    return components
