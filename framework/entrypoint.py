"""The program entry point: patch the standard library for gevent first, then run the CLI.

``gevent.monkey.patch_all()`` must run before ``ssl``, ``urllib3`` or ``requests`` are
imported, so nothing here imports them at module level. A program that embeds
healthcrawl must do the same as the first thing it runs (see docs/embedding.md).
A command line without a command (``--help``, ``--version``) runs nothing that needs the patch,
so it starts without gevent (see ``cli.light_start``).
"""

from __future__ import annotations

import functools
import importlib.metadata
import sys


def main(argv: list[str] | None = None) -> int:
    """Run the ``healthcrawl`` command line and return its exit code."""
    from healthcrawl.cli.light_start import command_word

    if argv is None:
        argv = sys.argv[1:]
    if command_word(argv) is not None:
        patch_for_gevent()

    from healthcrawl.cli.main import main as cli_main

    return cli_main(argv, own_process=True)


def patch_for_gevent() -> None:
    """``gevent.monkey.patch_all()``, with the installed distributions' entry points read once.

    gevent looks up its plugins' entry points for each of the ~25 events of a ``patch_all`` (each lookup
    reads every installed distribution's metadata): a third of the CPU of patching. They cannot change
    while it runs, so the lookup is cached for that time only.
    """
    from gevent import monkey

    read = importlib.metadata.entry_points
    importlib.metadata.entry_points = functools.cache(read)
    try:
        monkey.patch_all()
    finally:
        importlib.metadata.entry_points = read
