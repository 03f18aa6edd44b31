"""Process-wide settings for a crawl, which the ``healthcrawl`` command turns on (never the library by itself).

An embedding program decides these for its own process; ``prepare_process`` is what the CLI
does before a crawl, and what such a program may call too (see docs/embedding.md). Forked
workers inherit all of it.
"""

from __future__ import annotations

import gc
import resource
import warnings

from healthcrawl.configuration.settings import CrawlSettings
from healthcrawl.errors import ConfigError

HEADROOM = 64
"""Descriptors besides the connections: sinks, the target file, pipes to workers, the resolver."""
GC_ALLOCATIONS_PER_TARGET = 3
"""The garbage collector's first threshold per target in flight (Python's default is 700 in all, about 256
targets' worth). Collections of the older generations walk every target's state, so at 10,000 in flight
they must come proportionally less often, or their cost per target grows with the number in flight."""


def prepare_process(settings: CrawlSettings) -> None:
    """Make this process fit for crawling with ``settings``: open-file limit, warnings, garbage collector.

    Call it last before ``Crawl.run()``: the objects alive then (modules, plugins, config) live
    for the whole run, and are frozen out of the cyclic garbage collector's scans (which also keeps
    forked workers' copies of them shared). The collector's first threshold grows with
    ``crawl.concurrency`` (``GC_ALLOCATIONS_PER_TARGET`` each, never below Python's default), so its
    scans of the targets in flight cost the same per target at any concurrency. Raises
    ``ConfigError`` when the open-file limit is too low.
    """
    ensure_open_file_limit(settings.concurrency)
    if settings.verify is False:
        # The config asked not to verify; urllib3's warning on every request would drown the output.
        from urllib3.exceptions import InsecureRequestWarning

        warnings.simplefilter("ignore", InsecureRequestWarning)
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(max(gc.get_threshold()[0], GC_ALLOCATIONS_PER_TARGET * settings.concurrency), older, oldest)


def ensure_open_file_limit(concurrency: int) -> int:
    """Raise the soft ``RLIMIT_NOFILE`` to the hard limit when ``concurrency`` needs it; return the limit now in force.

    Raises ``ConfigError`` naming ``crawl.concurrency`` when even the hard limit is too low.
    """
    needed = concurrency + HEADROOM
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise ConfigError([
                f"crawl.concurrency: {concurrency} connections need about {needed} open files, "
                f"but this process may open at most {hard} (raise the hard limit, e.g. ulimit -Hn, or lower concurrency)"
            ])
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    return soft
