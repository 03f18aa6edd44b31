"""A plugin's bug stays in the plugin: a failing check fails itself, a failing component names its plugin."""

import pytest

from healthcrawl import Check, ConfigError, hookimpl


def checks_plugin(*check_classes):
    class Plugin:
        @hookimpl
        def healthcrawl_register_checks(self, register):
            for check_class in check_classes:
                register(check_class)

    return Plugin()


def test_exceptions_in_evaluate_and_applies_to_fail_only_that_check(http_server, crawl, register_plugin):
    class Dividing(Check):
        type_name = "dividing"

        def evaluate(self, snapshot):
            return self.outcome(1 / 0 > 0)

    class Choosy(Check):
        type_name = "choosy"

        def applies_to(self, snapshot):
            raise LookupError("cannot decide")

    register_plugin(checks_plugin(Dividing, Choosy))
    targets = [http_server.url("/"), http_server.url("/missing")]
    records = crawl({
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "dividing"}, {"type": "choosy"}, {"type": "status"}],
    })
    assert sorted(r["target"] for r in records) == sorted(targets)
    for record in records:
        dividing, choosy, status = record["checks"]
        assert dividing == {"name": "dividing", "ok": False, "detail": "check raised ZeroDivisionError: division by zero"}
        assert choosy == {"name": "choosy", "ok": False, "detail": "check raised LookupError: cannot decide"}
        assert status["name"] == "status" and record["error_kind"] is None
    assert {r["target"]: r["checks"][2]["ok"] for r in records} == {targets[0]: True, targets[1]: False}


def test_a_component_whose_constructor_raises_stops_the_run_naming_its_plugin(http_server, crawl, register_plugin):
    class Fragile(Check):
        type_name = "fragile"

        def __init__(self, options, context):
            raise KeyError("missing setting")

    register_plugin(checks_plugin(Fragile), name="fragile-plugin")
    with pytest.raises(ConfigError) as stopped:
        crawl({"sources": [{"type": "list", "targets": [http_server.url("/")]}],
               "checks": [{"type": "status"}, {"type": "fragile"}]})
    assert stopped.value.problems == [
        "checks[1]: check type 'fragile' of plugin 'fragile-plugin' failed to start: KeyError: 'missing setting'"
    ]
    assert http_server.hits["/"] == 0
