"""The import paths plugins used before ``from healthcrawl import ...``, kept working for one release.

``healthcrawl.components``, ``healthcrawl.config``, ``healthcrawl.models`` and ``healthcrawl.targets``
are shims: each forwards the names it used to define and warns, on every use, with the import
to write instead. Names that are public API point to ``healthcrawl``; the others (never public)
point to their new internal home, which may change without notice.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Callable

PUBLIC = "healthcrawl"


def forwarding(old_module: str, homes: dict[str, str]) -> tuple[list[str], Callable[[str], Any], Callable[[], list[str]]]:
    """``__all__``, ``__getattr__`` and ``__dir__`` (PEP 562) for the shim ``old_module``.

    ``homes`` maps each name the old module had to the module that defines it now
    (``"healthcrawl"`` for the public ones). Each access warns with a ``DeprecationWarning``
    attributed to the line that imported the name.
    """
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
