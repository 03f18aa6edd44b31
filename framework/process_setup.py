"""Open-file limits: a crawl needs about one descriptor per connection in flight."""

from __future__ import annotations

import resource

from healthcrawl.errors import ConfigError

HEADROOM = 64
"""Descriptors besides the connections: sinks, the target file, pipes to workers, the resolver."""


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
