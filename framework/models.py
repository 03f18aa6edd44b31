"""Deprecated: import from ``healthcrawl`` (``from healthcrawl import Snapshot, CheckOutcome, Result``). Removed in the next release."""

from healthcrawl.old_import_paths import PUBLIC, forwarding

__all__, __getattr__, __dir__ = forwarding(__name__, {
    name: PUBLIC
    for name in ("Target", "Snapshot", "CheckOutcome", "Result", "Timings", "TlsInfo", "ERROR_KINDS", "RESULT_KEYS")
})
