"""Finding and loading plugins: the built-in ones, then third-party entry points.

Built-in plugins are the modules in ``DEFAULT_PLUGINS``; third-party plugins are
advertised in the ``healthcrawl`` entry-point group. ``HEALTHCRAWL_DISABLE_PLUGINS``
(a comma-separated list of plugin names) skips the plugins it names.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

import pluggy

from healthcrawl import __version__
from healthcrawl.errors import describe_error
from healthcrawl.plugin_system import hookspecs

log = logging.getLogger("healthcrawl")

ENTRY_POINT_GROUP = "healthcrawl"
DISABLE_ENV = "HEALTHCRAWL_DISABLE_PLUGINS"

DEFAULT_PLUGINS = (
    "healthcrawl.plugins.sources.file",
    "healthcrawl.plugins.sources.list",
    "healthcrawl.plugins.sources.csv",
    "healthcrawl.plugins.checks.status",
    "healthcrawl.plugins.checks.body_match",
    "healthcrawl.plugins.checks.tls_expiry",
    "healthcrawl.plugins.checks.tls",
    "healthcrawl.plugins.checks.response_time",
    "healthcrawl.plugins.checks.header",
    "healthcrawl.plugins.checks.json_body",
    "healthcrawl.plugins.checks.redirect",
    "healthcrawl.plugins.sinks.jsonl",
    "healthcrawl.plugins.database",
    "healthcrawl.plugins.prometheus",
    "healthcrawl.plugins.distributed",
)


class PluginLoadError(Exception):
    """A plugin could not be imported or registered; the message names it and where it came from."""


@dataclass(frozen=True)
class PluginOrigin:
    """Where a registered plugin came from, for ``healthcrawl plugins``."""

    source: str
    """``built-in``, ``entry point NAME = module`` or ``registered at run time``."""
    version: str | None


PER_PLUGIN_HOOKS = frozenset({
    "healthcrawl_register_sources",
    "healthcrawl_register_checks",
    "healthcrawl_register_sinks",
    "healthcrawl_register_commands",
    "healthcrawl_result",
    "healthcrawl_crawl_start",
    "healthcrawl_crawl_finish",
})
"""Hooks called for each plugin on its own (``PluginManager.call_per_plugin``), where a wrapper would wrap nothing."""


class PluginManager(pluggy.PluginManager):
    """pluggy's manager plus the origin of each plugin and calls that keep plugins apart."""

    def __init__(self) -> None:
        super().__init__("healthcrawl")
        self.add_hookspecs(hookspecs)
        self.origins: dict[str, PluginOrigin] = {}
        self.skipped: set[str] = set()
        """Names of plugins found but not loaded because ``HEALTHCRAWL_DISABLE_PLUGINS`` lists them."""

    def origin(self, name: str) -> PluginOrigin:
        """Where the plugin called ``name`` came from."""
        return self.origins.get(name, PluginOrigin("registered at run time", None))

    def register(self, plugin: object, name: str | None = None) -> str | None:
        """Register ``plugin`` (see pluggy); refuse one whose hooks healthcrawl could not call as written.

        A function marked ``@hookimpl`` whose name is no healthcrawl hook would never be called, and
        a wrapper of a hook called per plugin would wrap nothing: both raise ``PluginLoadError``.
        """
        registered = super().register(plugin, name)
        if registered is not None:
            try:
                _check_implementations(self, registered)
            except PluginLoadError:
                self.unregister(name=registered)
                raise
        return registered

    def call_per_plugin(
        self, hook_name: str, arguments: Callable[[str], dict]
    ) -> Iterator[tuple[str, Exception | None]]:
        """Call each implementation of ``hook_name`` through pluggy on its own, in the order plugins registered.

        ``arguments(plugin_name)`` gives the keyword arguments of each call; yields
        ``(plugin_name, error)`` after each call (``error`` is ``None`` when it returned).
        """
        hook = getattr(self.hook, hook_name)
        implementations = hook.get_hookimpls()
        for impl in implementations:
            # Leave out only the other implementers, not every plugin: this runs for each result.
            others = [other.plugin for other in implementations if other is not impl]
            try:
                self.subset_hook_caller(hook_name, others)(**arguments(impl.plugin_name))
            except Exception as error:
                yield impl.plugin_name, error
            else:
                yield impl.plugin_name, None

    def notify(self, hook_name: str, **kwargs) -> None:
        """Call every implementation of an observer hook, each on its own.

        An exception is logged on one line naming the plugin (with the traceback at debug level);
        the other implementations are still called and the crawl goes on.
        """
        for plugin, error in self.call_per_plugin(hook_name, lambda plugin: kwargs):
            if error is not None:
                log.error(
                    "plugin %r failed in %s: %s", plugin, hook_name, describe_error(error),
                    exc_info=error if log.isEnabledFor(logging.DEBUG) else None,
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
        manager.origins[module_name] = PluginOrigin("built-in", __version__)
        manager.register(importlib.import_module(module_name), name=module_name)
    if load_entry_points:
        _load_entry_points(manager)
    return manager


def _plugin_entry_points() -> Iterator[tuple[importlib.metadata.Distribution, importlib.metadata.EntryPoint]]:
    """Every installed distribution's entry points in the ``healthcrawl`` group (read from metadata, nothing imported)."""
    for dist in importlib.metadata.distributions():
        for entry_point in dist.entry_points:
            if entry_point.group == ENTRY_POINT_GROUP:
                yield dist, entry_point


def plugin_fingerprint() -> str:
    """What identifies the plugins ``create_plugin_manager`` would load, read without importing any: healthcrawl's
    version, the built-in plugins' files (their modification times), the entry points of the installed
    distributions (with their versions) and ``HEALTHCRAWL_DISABLE_PLUGINS``. Equal fingerprints, same plugins."""
    built_in = importlib.util.find_spec("healthcrawl.plugins").submodule_search_locations
    files = sorted(
        (str(path), path.stat().st_mtime_ns) for folder in built_in for path in Path(folder).rglob("*.py")
    )
    entry_points = sorted(
        (dist.metadata["Name"], dist.version, entry_point.name, entry_point.value)
        for dist, entry_point in _plugin_entry_points()
    )
    identity = [__version__, DEFAULT_PLUGINS, files, entry_points, sorted(disabled_plugin_names())]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def plugin_count() -> int:
    """How many plugins ``create_plugin_manager`` would load (built-in and entry points, less the disabled),
    counted from metadata without importing any."""
    disabled = disabled_plugin_names()
    entry_points = {entry_point.name for _, entry_point in _plugin_entry_points()} - set(DEFAULT_PLUGINS)
    return len((set(DEFAULT_PLUGINS) | entry_points) - disabled)


def _load_entry_points(manager: PluginManager) -> None:
    distributions: dict[str, str] = {}
    for dist, entry_point in _plugin_entry_points():
        dist_name = dist.metadata["Name"]
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
        manager.origins[name] = PluginOrigin(where, dist.version)
        try:
            plugin = entry_point.load()
            manager.register(plugin, name=name)
        except PluginLoadError:
            raise
        except Exception as error:
            raise PluginLoadError(f"plugin {name!r} failed to load from {where}: {describe_error(error)}") from error


def _check_implementations(manager: PluginManager, plugin_name: str) -> None:
    """Refuse what healthcrawl would silently never call: unknown hook names, wrappers of per-plugin hooks."""
    plugin = manager.get_plugin(plugin_name)
    where = manager.origin(plugin_name).source
    for caller in manager.get_hookcallers(plugin) or []:
        for impl in caller.get_hookimpls():
            if impl.plugin is not plugin:
                continue
            if not caller.has_spec() and not impl.optionalhook:
                raise PluginLoadError(
                    f"plugin {plugin_name!r} ({where}) implements {caller.name}, which is not a healthcrawl hook"
                )
            if caller.name in PER_PLUGIN_HOOKS and (impl.wrapper or impl.hookwrapper):
                raise PluginLoadError(
                    f"plugin {plugin_name!r} ({where}) implements {caller.name} as a wrapper, which healthcrawl "
                    f"does not support there: it calls that hook for each plugin on its own, so a wrapper "
                    f"would wrap nothing (drop wrapper=True)"
                )


_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager, created on first use.

    Tests may ``register`` a temporary plugin on it and must ``unregister`` it afterwards.
    """
    global _manager
    if _manager is None:
        _manager = create_plugin_manager()
    return _manager


def loaded_plugin_manager() -> PluginManager | None:
    """The process-wide plugin manager if something already created it (then asking it costs nothing), else ``None``."""
    return _manager
