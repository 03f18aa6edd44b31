"""Reading a config file's YAML within bounds, so a hostile file is one ``ConfigError`` line.

A config file is at most ``MAX_CONFIG_BYTES``; its values nest at most ``MAX_DEPTH`` deep and
number at most ``MAX_VALUES`` once every alias is expanded (so an alias bomb, "billion laughs",
is refused before it is built); an alias inside the value it names is refused. The bounds are
checked on the parser's event stream, which needs no recursion, before anything is constructed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from healthcrawl.errors import ConfigError, one_line

MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""Largest config file read (4 MiB); longer target lists belong in a ``file`` source."""
MAX_DEPTH = 64
"""Deepest nesting of lists and mappings, aliases expanded."""
MAX_VALUES = 1_000_000
"""Most values (scalars, lists, mappings) in a config, aliases expanded."""

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when PyYAML has it: same results, faster


def read_yaml_config(path: Path) -> Any:
    """The data in the YAML config file at ``path``; a ``ConfigError`` when it cannot be read, is not
    YAML or exceeds a bound."""
    text = _read_text(path)
    try:
        _check_bounds(path, text)
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        raise ConfigError([yaml_problem(path, _described(text, error))]) from None
    except ValueError as error:  # an integer of more digits than Python converts; its advice is for programmers
        raise ConfigError([f"{path}: a value cannot be read: {one_line(error).split(';')[0]}"]) from None


def _read_text(path: Path) -> str:
    try:
        with open(path, "rb") as file:
            data = file.read(MAX_CONFIG_BYTES + 1)
    except OSError as error:
        raise ConfigError([f"{path}: cannot read: {error.strerror or error}"]) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError([
            f"{path}: larger than {MAX_CONFIG_BYTES // (1024 * 1024)} MiB, the most a config may be "
            "(put long target lists in a file source)"
        ])
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ConfigError([f"{path}: not UTF-8 text: {error.reason} at byte {error.start}"]) from None


def _check_bounds(path: Path, text: str) -> None:
    """Walk the parser's events, counting values and depth as if every alias were expanded."""
    open_nodes: list[list] = []  # [anchor, values, depth] of each list or mapping not yet closed
    expanded: dict[str, tuple[int, int]] = {}  # anchor -> (values, depth) of the value it names
    total = 0
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
            open_nodes.append([event.anchor, 1, 1])
            if len(open_nodes) > MAX_DEPTH:
                raise _bound_error(path, event, f"nested more than {MAX_DEPTH} deep, the most a config may nest")
            total += 1
        elif isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
            anchor, values, depth = open_nodes.pop()
            if anchor is not None:
                expanded[anchor] = (values, depth)
            if open_nodes:
                _add(open_nodes[-1], values, depth)
        elif isinstance(event, yaml.AliasEvent):
            if any(node[0] == event.anchor for node in open_nodes):
                raise _bound_error(path, event, f"alias *{event.anchor} refers to a value that contains it")
            values, depth = expanded.get(event.anchor, (1, 0))  # an unknown anchor: the loader reports it
            if len(open_nodes) + depth > MAX_DEPTH:
                raise _bound_error(
                    path, event, f"nested more than {MAX_DEPTH} deep once aliases are expanded, the most a config may nest"
                )
            total += values
            if open_nodes:
                _add(open_nodes[-1], values, depth)
        elif isinstance(event, yaml.ScalarEvent):
            if event.anchor is not None:
                expanded[event.anchor] = (1, 0)
            total += 1
            if open_nodes:
                _add(open_nodes[-1], 1, 0)
        if total > MAX_VALUES:
            raise _bound_error(path, event, f"more than {MAX_VALUES:,} values once aliases are expanded, the most a config may hold")


def _described(text: str, error: yaml.YAMLError) -> yaml.YAMLError:
    """The pure-Python parser's report of a syntax error libyaml found: its wording is the one documented
    (``expected ',' or ']'``). Parsing alone builds nothing and needs no recursion, so it stays bounded."""
    if _Loader is yaml.SafeLoader:
        return error
    try:
        for _ in yaml.parse(text, Loader=yaml.SafeLoader):
            pass
    except yaml.YAMLError as described:
        return described
    return error


def _add(node: list, values: int, depth: int) -> None:
    node[1] += values
    node[2] = max(node[2], depth + 1)


def _bound_error(path: Path, event: yaml.Event, reason: str) -> ConfigError:
    mark = event.start_mark
    return ConfigError([f"{path}:{mark.line + 1}:{mark.column + 1}: {reason}"])


def yaml_problem(path: Path, error: yaml.YAMLError) -> str:
    """``PATH:LINE:COLUMN: not valid YAML: PROBLEM (CONTEXT at line L, column C)``, counted from 1."""
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    if mark is None:
        return f"{path}: not valid YAML: {one_line(error)}"
    text = f"{path}:{mark.line + 1}:{mark.column + 1}: not valid YAML: {error.problem or error.context}"
    context_mark = error.context_mark
    if error.context and error.problem and context_mark is not None:
        text += f" ({error.context} at line {context_mark.line + 1}, column {context_mark.column + 1})"
    return text
