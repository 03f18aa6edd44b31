"""What ``healthcrawl --help`` and ``--version`` need without importing a plugin.

Listing the plugins' commands means calling their ``healthcrawl_register_commands`` hooks, which
imports the plugins (and with them gevent, marshmallow, YAML, ...). So the commands' names and help
lines are remembered in an index file each time the plugins are loaded anyway, with a fingerprint of
the installed plugins (``plugin_fingerprint``); ``--help`` reads the index while the fingerprint
still matches and loads the plugins only when it does not (then writes the index for next time).
The index lives in ``$XDG_CACHE_HOME/healthcrawl`` (default ``~/.cache/healthcrawl``), one file per
Python environment; a cache folder that cannot be written only costs the speed-up.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path

from healthcrawl.plugin_system.manager import plugin_fingerprint

PluginCommand = tuple[str, str, str]
"""``(plugin name, command name, help line)`` of one command a plugin registers."""


def command_word(argv: list[str]) -> str | None:
    """The command a command line runs (its first word that is not an option), or ``None`` for
    ``--help``, ``--version`` or an empty command line (``healthcrawl`` takes no option with a value)."""
    return next((word for word in argv if not word.startswith("-")), None)


def index_path() -> Path:
    """The index file of this Python environment."""
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    environment = hashlib.sha256(sys.prefix.encode()).hexdigest()[:16]
    return Path(cache) / "healthcrawl" / f"plugin-commands-{environment}.json"


def indexed_commands() -> list[PluginCommand] | None:
    """The plugins' commands as last remembered, or ``None`` when the index is missing or the plugins changed since."""
    try:
        index = json.loads(index_path().read_text(encoding="utf-8"))
        if index["fingerprint"] != plugin_fingerprint():
            return None
        return [(plugin, name, help) for plugin, name, help in index["commands"]]
    except (OSError, ValueError, KeyError, TypeError):
        return None


def remember_commands(commands: list[PluginCommand]) -> None:
    """Write the index for the installed plugins unless it says this already (atomically: a concurrent
    reader sees the old file or the new)."""
    import tempfile  # only here: it imports random, which --help has no use for

    path = index_path()
    text = json.dumps({"fingerprint": plugin_fingerprint(), "commands": commands})
    try:
        if path.read_text(encoding="utf-8") == text:
            return  # already remembered: no write for each command that loads the plugins
    except (OSError, ValueError):
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, prefix=".index-", delete=False, encoding="utf-8") as file:
            file.write(text)
    except OSError:
        return
    try:
        os.replace(file.name, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(file.name)
