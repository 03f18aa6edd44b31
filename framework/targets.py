"""Deprecated: import from ``healthcrawl`` (``from healthcrawl import parse_target``). Removed in the next release."""

from healthcrawl.old_import_paths import PUBLIC, forwarding

__all__, __getattr__, __dir__ = forwarding(__name__, {
    "parse_target": PUBLIC,
    "normalise_url": "healthcrawl.target_parsing",
})
