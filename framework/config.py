"""Deprecated, removed in the next release: import from ``healthcrawl`` instead
(``from healthcrawl import ConfigError, CrawlSettings, at_least``); see ``healthcrawl.old_import_paths``.
"""

from healthcrawl.old_import_paths import forwarding

__all__, __getattr__, __dir__ = forwarding(__name__)
