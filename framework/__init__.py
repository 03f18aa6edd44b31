"""healthcrawl: a gevent-based, plugin-extensible health-check crawler.

This module is the public surface: everything a source, check, sink or command needs, and what a
program that runs crawls needs, is imported from here (``from healthcrawl import Check, hookimpl``).
Names are loaded on first use, so importing ``healthcrawl`` stays light and never imports
``ssl``, ``urllib3`` or ``requests``: the console script imports it before
``gevent.monkey.patch_all()`` has run (see ``entrypoint``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

import pluggy

__version__ = "0.1.0"

hookimpl = pluggy.HookimplMarker("healthcrawl")
"""Decorator marking a function as a healthcrawl hook implementation."""

_PUBLIC = {
    # what plugins subclass or raise
    "Source": "healthcrawl.plugin_system.components",
    "Check": "healthcrawl.plugin_system.components",
    "Sink": "healthcrawl.plugin_system.components",
    "Command": "healthcrawl.plugin_system.components",
    "ComponentContext": "healthcrawl.plugin_system.components",
    "ComponentDisabled": "healthcrawl.plugin_system.components",
    "RunInfo": "healthcrawl.plugin_system.components",
    "ConfigError": "healthcrawl.errors",
    "CommandFailed": "healthcrawl.errors",
    # the records that flow through a crawl
    "Target": "healthcrawl.records",
    "Snapshot": "healthcrawl.records",
    "CheckOutcome": "healthcrawl.records",
    "Result": "healthcrawl.records",
    "Timings": "healthcrawl.records",
    "TlsInfo": "healthcrawl.records",
    "ERROR_KINDS": "healthcrawl.records",
    "RESULT_KEYS": "healthcrawl.records",
    "Summary": "healthcrawl.summary",
    "CrawlSettings": "healthcrawl.configuration.settings",
    "OutgoingRequest": "healthcrawl.fetching.request",
    "Resume": "healthcrawl.crawl.resume",
    "SeqSet": "healthcrawl.crawl.sequence",
    # helpers for writing them
    "parse_target": "healthcrawl.target_parsing",
    "at_least": "healthcrawl.configuration.numbers",
    "bounded_integer": "healthcrawl.configuration.numbers",
    "bounded_number": "healthcrawl.configuration.numbers",
    # running a crawl from a program (see docs/embedding.md)
    "Crawl": "healthcrawl.crawl.engine",
    "CrawlOutcome": "healthcrawl.crawl.engine",
    "load_config": "healthcrawl.configuration.loading",
    "build_config": "healthcrawl.configuration.loading",
    "prepare_process": "healthcrawl.process_setup",
}

__all__ = ["__version__", "hookimpl", *_PUBLIC]

if TYPE_CHECKING:
    from healthcrawl.configuration.loading import build_config, load_config
    from healthcrawl.configuration.numbers import at_least, bounded_integer, bounded_number
    from healthcrawl.configuration.settings import CrawlSettings
    from healthcrawl.crawl.engine import Crawl, CrawlOutcome
    from healthcrawl.crawl.resume import Resume
    from healthcrawl.crawl.sequence import SeqSet
    from healthcrawl.errors import CommandFailed, ConfigError
    from healthcrawl.fetching.request import OutgoingRequest
    from healthcrawl.process_setup import prepare_process
    from healthcrawl.plugin_system.components import (
        Check, Command, ComponentContext, ComponentDisabled, RunInfo, Sink, Source,
    )
    from healthcrawl.records import ERROR_KINDS, RESULT_KEYS, CheckOutcome, Result, Snapshot, Target, Timings, TlsInfo
    from healthcrawl.summary import Summary
    from healthcrawl.target_parsing import parse_target


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'healthcrawl' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next access is a plain lookup
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
