"""Deprecated, removed in the next release: import from ``healthcrawl`` instead
(``from healthcrawl import ConfigError, CrawlSettings, at_least``); see ``healthcrawl.old_import_paths``.
"""

from healthcrawl.old_import_paths import PUBLIC, forwarding

_INTERNAL = "healthcrawl.configuration.loading"

__all__, __getattr__, __dir__ = forwarding(__name__, {
    "ConfigError": PUBLIC,
    "at_least": PUBLIC,
    "CrawlSettings": PUBLIC,
    "build_config": _INTERNAL,
    "load_config": _INTERNAL,
    "DEFAULT_CHECKS": _INTERNAL,
})
