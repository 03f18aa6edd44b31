"""healthcrawl: a gevent-based, plugin-extensible health-check crawler.

This module stays import-light on purpose: the console script must be able to
import it before ``gevent.monkey.patch_all()`` has run (see ``entrypoint``).
"""

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("healthcrawl")
"""Decorator marking a function as a healthcrawl hook implementation."""

__all__ = ["__version__", "hookimpl"]
