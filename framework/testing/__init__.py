"""Testing kit for healthcrawl and its plugins: loopback servers, certificates, in-process crawls.

What a plugin's tests need is importable from here (``from healthcrawl.testing import run_crawl``):
``run_crawl``, ``run_crawl_outcome``, ``records_by_target`` and ``ResultCollector``. Names load on
first use, so importing this package imports neither ``ssl`` nor ``requests``; run
``gevent.monkey.patch_all()`` before using them (the pytest plugin does it for a project that sets
``healthcrawl_gevent = true``). The servers live in ``healthcrawl.testing.servers``,
``dns_server`` and ``proxy``; ``healthcrawl.testing.pytest_plugin`` holds the pytest fixtures.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

_PUBLIC = {
    "run_crawl": "healthcrawl.testing.crawl",
    "run_crawl_outcome": "healthcrawl.testing.crawl",
    "records_by_target": "healthcrawl.testing.crawl",
    "ResultCollector": "healthcrawl.testing.collector",
}

__all__ = list(_PUBLIC)

if TYPE_CHECKING:
    from healthcrawl.testing.collector import ResultCollector
    from healthcrawl.testing.crawl import records_by_target, run_crawl, run_crawl_outcome


def __getattr__(name: str):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'healthcrawl.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
