"""Every hook a healthcrawl plugin can implement.

Hooks are called through pluggy with keyword arguments only; an implementation may accept
fewer arguments than its spec, so specs can grow without breaking plugins. The built-in
sources, checks, sinks and the database plugin's commands register through these same hooks.

Where each runs: the registration hooks wherever healthcrawl starts; ``healthcrawl_prepare_request``
where targets are fetched (the worker processes of a multi-worker crawl); ``healthcrawl_result``,
``healthcrawl_crawl_start`` and ``healthcrawl_crawl_finish`` in the parent process, which writes results.
Every hook except ``healthcrawl_prepare_request`` is called for each plugin on its own (so one
plugin's exception is reported with its name and cannot stop another's); a ``wrapper=True``
implementation of one of them is refused when the plugin is registered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

if TYPE_CHECKING:
    from healthcrawl.fetching.request import OutgoingRequest
    from healthcrawl.plugin_system.components import Check, Command, RunInfo, Sink, Source
    from healthcrawl.records import Result
    from healthcrawl.summary import Summary

hookspec = pluggy.HookspecMarker("healthcrawl")


@hookspec
def healthcrawl_register_sources(register: Callable[[type["Source"]], None]) -> None:
    """Register source types by calling ``register(SourceClass)`` once per type.

    ``SourceClass.type_name`` is the name a config's ``sources[].type`` uses.
    Every implementation is called; the return value is ignored. An exception, or a
    type name another plugin registered too, stops startup with an error naming the plugin.
    """


@hookspec
def healthcrawl_register_checks(register: Callable[[type["Check"]], None]) -> None:
    """Register check types by calling ``register(CheckClass)`` once per type.

    ``CheckClass.type_name`` is the name a config's ``checks[].type`` uses.
    Every implementation is called; the return value is ignored. An exception, or a
    type name another plugin registered too, stops startup with an error naming the plugin.
    """


@hookspec
def healthcrawl_register_sinks(register: Callable[[type["Sink"]], None]) -> None:
    """Register sink types by calling ``register(SinkClass)`` once per type.

    ``SinkClass.type_name`` is the name a config's ``sinks[].type`` uses.
    Every implementation is called; the return value is ignored. An exception, or a
    type name another plugin registered too, stops startup with an error naming the plugin.
    """


@hookspec
def healthcrawl_register_commands(register: Callable[[type["Command"]], None]) -> None:
    """Register ``healthcrawl`` subcommands by calling ``register(CommandClass)`` once per command.

    ``CommandClass`` subclasses ``healthcrawl.Command``; its ``name`` is what follows ``healthcrawl``.
    Every implementation is called; the return value is ignored. An exception, or a command
    name that is taken, stops startup with an error naming the plugin.
    """


@hookspec
def healthcrawl_prepare_request(request: "OutgoingRequest") -> None:
    """Adjust one outgoing request before it is sent (and again for each redirect hop).

    ``request.headers`` (a dict), ``request.auth`` (``(user, password)`` or ``None``),
    ``request.method`` and ``request.body`` may be changed in place; ``request.target`` and
    ``request.url`` say what is fetched.
    Every implementation is called, in the greenlet fetching the target; keep it fast
    and free of blocking I/O. The return value is ignored. An exception fails this
    target with ``internal_error``; the crawl goes on.
    """


@hookspec
def healthcrawl_result(result: "Result") -> None:
    """Observe one finished result, before it reaches the sinks.

    Called from the single writer greenlet for every result, in completion order.
    Every implementation is called; the return value is ignored. An exception is
    logged naming the plugin; the other implementations and the crawl go on.
    """


@hookspec
def healthcrawl_crawl_start(run: "RunInfo") -> None:
    """Called once when a crawl starts, after the sinks are open and before any target is fetched.

    Every implementation is called; the return value is ignored. An exception is
    logged naming the plugin; the other implementations and the crawl go on.
    """


@hookspec
def healthcrawl_crawl_finish(run: "RunInfo", summary: "Summary", state: str) -> None:
    """Called once when a crawl ends, after the last result was written.

    ``state`` is ``completed``, ``interrupted`` or ``failed``; ``summary`` holds the
    counts. Every implementation is called; the return value is ignored. An exception
    is logged naming the plugin; the other implementations still run.
    """
