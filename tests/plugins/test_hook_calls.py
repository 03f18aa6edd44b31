"""How healthcrawl calls hooks: through pluggy, with the arguments an implementation asks for, one plugin at a time.

Each hook is exercised where the product calls it (building the type table, building the command
line, a crawl against a loopback server), never by calling an implementation directly.
"""

import logging
import types

import pytest

from healthcrawl import hookimpl
from healthcrawl.cli.main import plugin_commands
from healthcrawl.plugin_system import hookspecs
from healthcrawl.plugin_system.manager import PER_PLUGIN_HOOKS, PluginLoadError, PluginManager, get_plugin_manager

HOOKS = sorted(name for name, value in vars(hookspecs).items() if hasattr(value, "healthcrawl_spec"))
OBSERVER_HOOKS = ["healthcrawl_crawl_finish", "healthcrawl_crawl_start", "healthcrawl_result"]
CALLED_ONCE_FOR_ALL_PLUGINS = {"healthcrawl_prepare_request"}


def plugin_with(hook_name, function, **hookimpl_options):
    """A plugin module whose only hook implementation is ``function``, under the name ``hook_name``."""
    plugin = types.ModuleType(f"plugin_with_{hook_name}")
    function.__name__ = hook_name
    setattr(plugin, hook_name, hookimpl(**hookimpl_options)(function))
    return plugin


def call_every_hook(http_server, crawl):
    """Do what makes healthcrawl call each hook: a crawl (types, requests, results, start, finish) and the command line."""
    records = crawl({"sources": [{"type": "list", "targets": [http_server.url("/")]}], "checks": [{"type": "status"}]})
    plugin_commands(get_plugin_manager())
    return records


@pytest.mark.parametrize("hook_name", HOOKS)
def test_an_implementation_taking_no_arguments_is_called(hook_name, http_server, crawl, register_plugin):
    calls = []
    register_plugin(plugin_with(hook_name, lambda: calls.append(hook_name)), name="no-arguments")
    records = call_every_hook(http_server, crawl)
    assert calls, f"{hook_name} was not called: add what triggers it to call_every_hook"
    assert [(record["ok"], record["error_kind"]) for record in records] == [(True, None)]


def test_the_hooks_called_per_plugin_are_every_hook_but_prepare_request():
    assert PER_PLUGIN_HOOKS == set(HOOKS) - CALLED_ONCE_FOR_ALL_PLUGINS


@pytest.mark.parametrize("style", ["wrapper", "hookwrapper"])
@pytest.mark.parametrize("hook_name", sorted(set(HOOKS) - CALLED_ONCE_FOR_ALL_PLUGINS))
def test_a_wrapper_of_a_per_plugin_hook_is_refused_at_registration_naming_the_plugin(hook_name, style):
    def new_style():
        return (yield)

    def old_style():
        yield

    manager = PluginManager()
    plugin = plugin_with(hook_name, new_style if style == "wrapper" else old_style, **{style: True})
    with pytest.raises(PluginLoadError) as refused:
        manager.register(plugin, name="wrapping-plugin")
    message = str(refused.value)
    assert message.startswith(
        f"plugin 'wrapping-plugin' (registered at run time) implements {hook_name} as a wrapper, "
        f"which healthcrawl does not support there"
    )
    assert "drop wrapper=True" in message and "\n" not in message
    assert not manager.is_registered(plugin) and manager.get_plugin("wrapping-plugin") is None


class NewStyleWrapper:
    @hookimpl(wrapper=True)
    def healthcrawl_prepare_request(self, request):
        request.headers["X-Order"] = "before"
        result = yield
        request.headers["X-Order"] += ",after"
        return result


class OldStyleWrapper:
    @hookimpl(hookwrapper=True)
    def healthcrawl_prepare_request(self, request):
        request.headers["X-Order"] = "before"
        outcome = yield
        outcome.get_result()
        request.headers["X-Order"] += ",after"


class AddsToTheOrder:
    @hookimpl
    def healthcrawl_prepare_request(self, request):
        request.headers["X-Order"] += ",plain"


@pytest.mark.hook("healthcrawl_prepare_request")
@pytest.mark.parametrize("wrapper", [NewStyleWrapper, OldStyleWrapper], ids=["wrapper", "hookwrapper"])
def test_a_wrapper_of_prepare_request_runs_around_the_other_implementations(wrapper, http_server, crawl, register_plugin):
    register_plugin(wrapper(), name="wrapper")
    register_plugin(AddsToTheOrder(), name="plain")
    http_server.route("/old", redirect_to="/new")
    (record,) = crawl({"sources": [{"type": "list", "targets": [http_server.url("/old")]}], "checks": []})
    assert (record["ok"], record["redirects"]) == (True, 1)
    assert http_server.last_headers["/old"]["X-Order"] == "before,plain,after"
    assert http_server.last_headers["/new"]["X-Order"] == "before,plain,after"


@pytest.mark.parametrize("hook_name", OBSERVER_HOOKS)
def test_an_exception_in_one_plugins_observer_hook_is_logged_naming_it_and_the_others_still_run(
    hook_name, http_server, crawl, register_plugin, caplog
):
    calls = []

    def fail():
        raise RuntimeError(f"bug in {hook_name}")

    register_plugin(plugin_with(hook_name, lambda: calls.append("first")), name="first-observer")
    register_plugin(plugin_with(hook_name, fail), name="broken-observer")
    register_plugin(plugin_with(hook_name, lambda: calls.append("last")), name="last-observer")
    with caplog.at_level(logging.ERROR, logger="healthcrawl"):
        (record,) = crawl({"sources": [{"type": "list", "targets": [http_server.url("/")]}], "checks": []})
    assert record["ok"] is True
    assert sorted(calls) == ["first", "last"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == [
        f"plugin 'broken-observer' failed in {hook_name}: RuntimeError: bug in {hook_name}"
    ]
