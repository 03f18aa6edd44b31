"""The import paths earlier docs taught keep working for a release, each use warning with the import to write instead."""

import importlib
import sys
import textwrap

import pytest

import healthcrawl

PUBLIC = "healthcrawl"
OLD_NAMES = {
    "healthcrawl.components": {
        "Check": PUBLIC, "Source": PUBLIC, "Sink": PUBLIC, "ComponentContext": PUBLIC,
        "ComponentDisabled": PUBLIC, "RunInfo": PUBLIC,
        "EmptyOptions": "healthcrawl.plugin_system.components",
        "COMPONENT_KINDS": "healthcrawl.plugin_system.components",
        "Component": "healthcrawl.plugin_system.components",
    },
    "healthcrawl.config": {
        "ConfigError": PUBLIC, "at_least": PUBLIC, "CrawlSettings": PUBLIC,
        "build_config": "healthcrawl.configuration.loading",
        "load_config": "healthcrawl.configuration.loading",
        "DEFAULT_CHECKS": "healthcrawl.configuration.loading",
    },
    "healthcrawl.models": {
        name: PUBLIC
        for name in ("Target", "Snapshot", "CheckOutcome", "Result", "Timings", "TlsInfo", "ERROR_KINDS", "RESULT_KEYS")
    },
    "healthcrawl.targets": {"parse_target": PUBLIC, "normalise_url": "healthcrawl.target_parsing"},
}
CASES = [(old, name, home) for old, names in OLD_NAMES.items() for name, home in names.items()]


def expected_warning(old, name, home):
    if home == PUBLIC:
        return f"{old} is deprecated: use `from healthcrawl import {name}`"
    return (f"{old} is deprecated: {name} is not public API; it now lives in {home} "
            f"(`from {home} import {name}`) and may change without notice")


@pytest.mark.parametrize("old, name, home", CASES, ids=[f"{old}.{name}" for old, name, _ in CASES])
def test_an_old_import_gives_the_same_object_and_warns_naming_the_new_import(old, name, home):
    namespace = {}
    with pytest.warns(DeprecationWarning) as warned:
        exec(compile(f"from {old} import {name}", "old_plugin.py", "exec"), namespace)
    assert [str(w.message) for w in warned] == [expected_warning(old, name, home)]
    assert warned[0].filename == "old_plugin.py", "the warning points at the line that imported the name"
    assert namespace[name] is getattr(importlib.import_module(home), name)
    if home == PUBLIC:
        assert name in healthcrawl.__all__


@pytest.mark.parametrize("old", sorted(OLD_NAMES))
def test_an_old_module_lists_its_names_and_star_import_warns_for_each(old):
    module = importlib.import_module(old)
    assert sorted(module.__all__) == dir(module) == sorted(OLD_NAMES[old])
    with pytest.warns(DeprecationWarning) as warned:
        exec(f"from {old} import *", {})
    assert sorted(str(w.message) for w in warned) == sorted(
        expected_warning(old, name, home) for name, home in OLD_NAMES[old].items()
    )


def test_a_name_an_old_module_never_had_is_an_import_error():
    with pytest.raises(ImportError, match="cannot import name 'Command' from 'healthcrawl.components'"):
        exec("from healthcrawl.components import Command", {})
    with pytest.raises(AttributeError, match="module 'healthcrawl.models' has no attribute 'Resultt'"):
        importlib.import_module("healthcrawl.models").Resultt


OLD_STYLE_PLUGIN = '''
    """A plugin written against the paths the docs taught before ``from healthcrawl import ...``."""

    from marshmallow import Schema, fields

    from healthcrawl import hookimpl
    from healthcrawl.components import Check, Sink, Source
    from healthcrawl.config import at_least
    from healthcrawl.models import CheckOutcome
    from healthcrawl.targets import parse_target

    RECEIVED = []


    class PathsOptions(Schema):
        base = fields.String(required=True)
        paths = fields.List(fields.String(), required=True)


    class PathsSource(Source):
        type_name = "old_paths"
        Options = PathsOptions

        def targets(self):
            for path in self.options["paths"]:
                yield parse_target(self.options["base"] + path)


    class ShortBodyOptions(Schema):
        max_bytes = fields.Integer(required=True, validate=at_least(1))


    class ShortBody(Check):
        type_name = "old_short_body"
        Options = ShortBodyOptions

        def evaluate(self, snapshot):
            return CheckOutcome(self.name, len(snapshot.body) <= self.options["max_bytes"], f"{len(snapshot.body)} bytes")


    class Remember(Sink):
        type_name = "old_remember"

        def write(self, results):
            RECEIVED.extend(result.target for result in results)


    @hookimpl
    def healthcrawl_register_sources(register):
        register(PathsSource)


    @hookimpl
    def healthcrawl_register_checks(register):
        register(ShortBody)


    @hookimpl
    def healthcrawl_register_sinks(register):
        register(Remember)
'''


@pytest.fixture
def old_style_plugin(tmp_path, monkeypatch):
    (tmp_path / "old_style_plugin.py").write_text(textwrap.dedent(OLD_STYLE_PLUGIN))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.warns(DeprecationWarning) as warned:
        module = importlib.import_module("old_style_plugin")
    yield module, [str(w.message) for w in warned]
    sys.modules.pop("old_style_plugin", None)


def test_a_plugin_written_the_old_way_still_runs_in_a_crawl(old_style_plugin, http_server, crawl, register_plugin):
    module, warnings = old_style_plugin
    assert sorted(warnings) == sorted([
        "healthcrawl.components is deprecated: use `from healthcrawl import Check`",
        "healthcrawl.components is deprecated: use `from healthcrawl import Sink`",
        "healthcrawl.components is deprecated: use `from healthcrawl import Source`",
        "healthcrawl.config is deprecated: use `from healthcrawl import at_least`",
        "healthcrawl.models is deprecated: use `from healthcrawl import CheckOutcome`",
        "healthcrawl.targets is deprecated: use `from healthcrawl import parse_target`",
    ])
    register_plugin(module, name="old-style")
    http_server.route("/long", body="x" * 100)
    records = crawl({
        "sources": [{"type": "old_paths", "base": http_server.url(""), "paths": ["/", "/long"]}],
        "checks": [{"type": "old_short_body", "max_bytes": 10}],
        "sinks": [{"type": "old_remember"}],
    })
    verdicts = {record["target"]: (record["ok"], record["checks"][0]["detail"]) for record in records}
    assert verdicts == {http_server.url("/"): (True, "2 bytes"), http_server.url("/long"): (False, "100 bytes")}
    assert sorted(module.RECEIVED) == sorted(verdicts)
