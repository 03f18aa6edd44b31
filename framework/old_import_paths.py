"""The import paths plugins used before ``from healthcrawl import ...``, kept working for one release.

``healthcrawl.components``, ``healthcrawl.config``, ``healthcrawl.models`` and ``healthcrawl.targets``
are shims: each forwards the names it used to define (``MOVED``) and warns, on every use, with the
import to write instead. Names that are public API point to ``healthcrawl``; the others (never
public) point to their new internal home, which may change without notice.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable

PUBLIC = "healthcrawl"

MOVED: dict[str, dict[str, str]] = {
    "healthcrawl.components": {
        **dict.fromkeys(("Check", "Source", "Sink", "ComponentContext", "ComponentDisabled", "RunInfo"), PUBLIC),
        **dict.fromkeys(("EmptyOptions", "COMPONENT_KINDS", "Component"), "healthcrawl.plugin_system.components"),
    },
    "healthcrawl.config": {
        **dict.fromkeys(("ConfigError", "at_least", "CrawlSettings"), PUBLIC),
        **dict.fromkeys(("build_config", "load_config", "DEFAULT_CHECKS"), "healthcrawl.configuration.loading"),
    },
    "healthcrawl.models": dict.fromkeys(
        ("Target", "Snapshot", "CheckOutcome", "Result", "Timings", "TlsInfo", "ERROR_KINDS", "RESULT_KEYS"), PUBLIC
    ),
    "healthcrawl.targets": {"parse_target": PUBLIC, "normalise_url": "healthcrawl.target_parsing"},
}
"""For each old module, every name it had and the module that defines it now."""


def forwarding(old_module: str) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` (PEP 562) for the shim ``old_module``.

    Each access warns with a ``DeprecationWarning`` attributed to the line that imported the name.
    """
    homes = MOVED[old_module]
    names = sorted(homes)

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {old_module!r} has no attribute {name!r}")
        warnings.warn(f"{old_module} is deprecated: {replacement(name, home)}", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(home), name)

    def __dir__() -> list[str]:
        return names

    return names, __getattr__, __dir__


def replacement(name: str, home: str) -> str:
    """What to write instead of importing ``name`` from an old path."""
    if home == PUBLIC:
        return f"use `from healthcrawl import {name}`"
    return f"{name} is not public API; it now lives in {home} (`from {home} import {name}`) and may change without notice"
