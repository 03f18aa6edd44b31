"""Deprecated, removed in the next release: import from ``healthcrawl`` instead
(``from healthcrawl import Check, Source, Sink``); see ``healthcrawl.old_import_paths``.
"""

from healthcrawl.old_import_paths import PUBLIC, forwarding

_INTERNAL = "healthcrawl.plugin_system.components"

__all__, __getattr__, __dir__ = forwarding(__name__, {
    "Check": PUBLIC,
    "Source": PUBLIC,
    "Sink": PUBLIC,
    "ComponentContext": PUBLIC,
    "ComponentDisabled": PUBLIC,
    "RunInfo": PUBLIC,
    "EmptyOptions": _INTERNAL,
    "COMPONENT_KINDS": _INTERNAL,
    "Component": _INTERNAL,
})
