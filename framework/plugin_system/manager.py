"""Finding and loading plugins: the built-in ones, then third-party entry points.

Built-in plugins are the modules in ``DEFAULT_PLUGINS``; third-party plugins are
advertised in the ``healthcrawl`` entry-point group. ``HEALTHCRAWL_DISABLE_PLUGINS``
(a comma-separated list of plugin names) skips the plugins it names.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
from dataclasses import dataclass

import pluggy

from healthcrawl import __version__
from healthcrawl.plugin_system import hookspecs

log = logging.getLogger("healthcrawl")

ENTRY_POINT_GROUP = "healthcrawl"
DISABLE_ENV = "HEALTHCRAWL_DISABLE_PLUGINS"

DEFAULT_PLUGINS = (
    "healthcrawl.plugins.sources.file",
    "healthcrawl.plugins.sources.list",
    "healthcrawl.plugins.sources.csv",
    "healthcrawl.plugins.database.sql_source",
    "healthcrawl.plugins.checks.status",
    "healthcrawl.plugins.checks.body_match",
    "healthcrawl.plugins.checks.tls_expiry",
    "healthcrawl.plugins.database.sink",
    "healthcrawl.plugins.sinks.jsonl",
)


class PluginLoadError(Exception):
    """A plugin could not be imported or registered; the message names it and where it came from."""


@dataclass(frozen=True)
class PluginOrigin:
    """Where a registered plugin came from, for ``healthcrawl plugins``."""

    source: str
    """``built-in``, ``entry point NAME = module`` or ``registered at run time``."""
    version: str | None


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus the origin of each plugin."""

    def __init__(self) -> None:
        super().__init__("healthcrawl")
        self.add_hookspecs(hookspecs)
        self.origins: dict[str, PluginOrigin] = {}
        self.skipped: set[str] = set()
        """Names of plugins found but not loaded because ``HEALTHCRAWL_DISABLE_PLUGINS`` lists them."""

    def origin(self, name: str) -> PluginOrigin:
        """Where the plugin called ``name`` came from."""
        return self.origins.get(name, PluginOrigin("registered at run time", None))

    def notify(self, hook_name: str, **kwargs) -> None:
        """Call every implementation of an observer hook, each on its own.

        An exception is logged on one line naming the plugin (with the traceback at debug level);
        the other implementations are still called and the crawl goes on.
        """
        for impl in reversed(getattr(self.hook, hook_name).get_hookimpls()):  # pluggy's order: last registered first
            try:
                impl.function(*(kwargs[name] for name in impl.argnames))
            except Exception as error:
                log.error(
                    "plugin %r failed in %s: %s",
                    impl.plugin_name,
                    hook_name,
                    describe_error(error),
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )


def disabled_plugin_names() -> set[str]:
    """Plugin names listed in ``HEALTHCRAWL_DISABLE_PLUGINS``."""
    return {name.strip() for name in os.environ.get(DISABLE_ENV, "").split(",") if name.strip()}


def create_plugin_manager(load_entry_points: bool = True) -> PluginManager:
    """A manager with the built-in plugins and (by default) every installed third-party plugin.

    Raises ``PluginLoadError`` naming the plugin and where it came from when one cannot be
    imported or registered, or implements a hook that does not exist.
    """
    manager = PluginManager()
    for name in disabled_plugin_names():
        manager.set_blocked(name)
    for module_name in DEFAULT_PLUGINS:
        if manager.is_blocked(module_name):
            manager.skipped.add(module_name)
            continue
        manager.register(importlib.import_module(module_name), name=module_name)
        manager.origins[module_name] = PluginOrigin("built-in", __version__)
    if load_entry_points:
        _load_entry_points(manager)
    _check_hook_names(manager)
    return manager


def _load_entry_points(manager: PluginManager) -> None:
    distributions: dict[str, str] = {}
    for dist in importlib.metadata.distributions():
        dist_name = dist.metadata["Name"]
        for entry_point in dist.entry_points:
            if entry_point.group != ENTRY_POINT_GROUP:
                continue
            name = entry_point.name
            if manager.is_blocked(name):
                manager.skipped.add(name)
                continue
            if name in distributions or manager.has_plugin(name):
                if distributions.get(name) == dist_name:
                    continue  # the same distribution found twice on sys.path
                raise PluginLoadError(
                    f"plugin name {name!r} is taken twice: by {distributions.get(name) or 'a built-in plugin'} "
                    f"and by distribution {dist_name}; uninstall one or set {DISABLE_ENV}={name}"
                )
            distributions[name] = dist_name
            where = f"entry point {name} = {entry_point.value} (distribution {dist_name})"
            try:
                plugin = entry_point.load()
                manager.register(plugin, name=name)
            except Exception as error:
                raise PluginLoadError(f"plugin {name!r} failed to load from {where}: {describe_error(error)}") from error
            manager.origins[name] = PluginOrigin(where, dist.version)


def _check_hook_names(manager: PluginManager) -> None:
    """Refuse ``@hookimpl`` functions whose name is no healthcrawl hook (a typo would never be called)."""
    for caller in vars(manager.hook).values():
        if not isinstance(caller, pluggy.HookCaller) or caller.has_spec():
            continue
        for impl in caller.get_hookimpls():
            if not impl.optionalhook:
                raise PluginLoadError(
                    f"plugin {impl.plugin_name!r} ({manager.origin(impl.plugin_name).source}) implements "
                    f"{caller.name}, which is not a healthcrawl hook"
                )


def describe_error(error: BaseException) -> str:
    """``Type: message`` on one line (just ``Type`` when the message is empty), for errors naming a plugin."""
    detail = " ".join(str(error).split())
    return f"{type(error).__name__}: {detail}" if detail else type(error).__name__


_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, created on first use.

    Tests may ``register`` a temporary plugin on it and must ``unregister`` it afterwards.
    """
    global _manager
    if _manager is None:
        _manager = create_plugin_manager()
    return _manager
