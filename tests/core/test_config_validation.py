"""Config validation, rule by rule: each rejection and its message, each default, each range's ends.

Written to kill mutants (issue 15): every assertion pins one behaviour a small edit of
``healthcrawl.configuration`` would change. Everything goes through ``build_config`` /
``load_config`` (the public way in) unless a rule is only reachable on the settings objects.
"""

import dataclasses
import logging
import os
from pathlib import Path

import pytest
from marshmallow import Schema, ValidationError, validate

from healthcrawl import Check, ConfigError, CrawlSettings, at_least, bounded_integer, bounded_number, build_config, load_config
from healthcrawl.configuration import yaml_reading
from healthcrawl.configuration.loading import DEFAULT_CHECKS, SECTIONS, build_components, did_you_mean, format_messages
from healthcrawl.configuration.request_spec import RequestSpec, target_overrides
from healthcrawl.configuration.retries import RetrySettings
from healthcrawl.configuration.settings import DistributedSettings
from healthcrawl.plugin_system.components import ComponentContext, ComponentDisabled
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.plugin_system.registry import ComponentRegistry, ComponentType

from .conftest import problems_of

LIST_SOURCE = {"type": "list", "targets": ["a.example"]}


def crawl_problems(crawl, registry):
    return problems_of({"crawl": crawl, "sources": [LIST_SOURCE]}, registry)


def settings_of(crawl, registry) -> CrawlSettings:
    return build_config({"crawl": crawl, "sources": [LIST_SOURCE]}, registry).settings


# --- the shape of a config ------------------------------------------------------------------

@pytest.mark.parametrize("data", [[], "crawl", 3, ["crawl"]], ids=repr)
def test_a_config_that_is_not_a_mapping_is_rejected(data, registry):
    assert problems_of(data, registry) == ["config: must be a mapping with sections crawl, sources, checks, sinks"]


@pytest.mark.parametrize("data", [None, {}, {"sources": []}, {"sources": None}], ids=repr)
def test_a_source_is_required(data, registry):
    assert problems_of(data, registry) == ["sources: at least one source is required"]


def test_an_unknown_section_gets_a_suggestion_only_when_one_is_close(registry):
    problems = problems_of({"sources": [LIST_SOURCE], "crawls": {}, "zzz": 1}, registry)
    assert problems == [
        "crawls: unknown section (did you mean 'crawl'?) (expected one of crawl, sources, checks, sinks)",
        "zzz: unknown section (expected one of crawl, sources, checks, sinks)",
    ]
    assert SECTIONS == ("crawl", "sources", "checks", "sinks")


@pytest.mark.parametrize("section", ["sources", "checks", "sinks"])
def test_a_section_must_be_a_list(section, registry):
    data = {"sources": [LIST_SOURCE], section: {"type": "list"}}
    assert f"{section}: must be a list of {{type: ...}} entries" in problems_of(data, registry)


@pytest.mark.parametrize("entry", ["status", 3, ["status"], None], ids=repr)
def test_an_entry_must_be_a_mapping(entry, registry):
    data = {"sources": [LIST_SOURCE], "checks": [{"type": "status"}, entry]}
    assert problems_of(data, registry) == ["checks[1]: must be a mapping with a 'type' key"]


def test_an_entry_needs_a_type_that_is_a_string(registry):
    data = {"sources": [LIST_SOURCE], "sinks": [{"path": "x"}, {"type": 3}]}
    assert problems_of(data, registry) == ["sinks[0].type: missing data for required field", "sinks[1].type: not a valid string"]


def test_an_unknown_type_lists_the_known_ones_and_suggests_a_close_one(registry):
    problems = problems_of({"sources": [LIST_SOURCE], "checks": [{"type": "stauts"}, {"type": "zzz"}]}, registry)
    known = ", ".join(registry.names("check"))
    assert problems == [
        f"checks[0].type: unknown check type 'stauts' (did you mean 'status'?) (known: {known})",
        f"checks[1].type: unknown check type 'zzz' (known: {known})",
    ]


def test_an_unknown_type_with_no_types_registered_says_none():
    empty = ComponentRegistry([])
    with pytest.raises(ConfigError) as caught:
        build_config({"sources": [{"type": "list"}], "checks": []}, empty)
    assert caught.value.problems == ["sources[0].type: unknown source type 'list' (known: none)"]


def test_an_unknown_option_gets_a_suggestion(registry):
    data = {"sources": [LIST_SOURCE], "checks": [{"type": "tls_expiry", "min_day": 3}, {"type": "status", "zzz": 1}]}
    assert problems_of(data, registry) == [
        "checks[0].min_day: unknown key (did you mean 'min_days'?)",
        "checks[1].zzz: unknown key",
    ]


def test_unknown_keys_of_the_crawl_section_and_its_nested_sections_get_suggestions(registry):
    problems = crawl_problems({"timout": 1, "retries": {"atempts": 2}, "distributed": {"chunk_sise": 3}, "zzz": 1}, registry)
    assert sorted(problems) == [
        "crawl.distributed.chunk_sise: unknown key (did you mean 'chunk_size'?)",
        "crawl.retries.atempts: unknown key (did you mean 'attempts'?)",
        "crawl.timout: unknown key (did you mean 'timeout'?)",
        "crawl.zzz: unknown key",
    ]


def test_without_a_checks_section_the_default_checks_run_and_an_empty_list_runs_none(registry):
    assert DEFAULT_CHECKS == ({"type": "status"}, {"type": "tls_expiry"})
    default = build_config({"sources": [LIST_SOURCE]}, registry)
    assert [(c.type.name, c.name, c.place) for c in default.checks] == [
        ("status", "status", "checks[0]"), ("tls_expiry", "tls_expiry", "checks[1]")
    ]
    assert build_config({"sources": [LIST_SOURCE], "checks": []}, registry).checks == ()
    assert build_config({"sources": [LIST_SOURCE], "checks": None}, registry).checks == ()
    assert build_config({"sources": [LIST_SOURCE], "sinks": None}, registry).sinks == ()


def test_a_loaded_config_keeps_its_entries_names_and_places(registry, tmp_path):
    entry = {"type": "body_match", "pattern": "ok", "name": "body"}
    config = build_config(
        {"crawl": {"concurrency": 4}, "sources": [LIST_SOURCE], "checks": [entry], "sinks": [{"type": "jsonl", "path": "r.jsonl"}]},
        registry, name="nightly", base_dir=tmp_path,
    )
    check, source, sink = config.checks[0], config.sources[0], config.sinks[0]
    assert (check.name, check.place, check.entry, check.type.kind) == ("body", "checks[0]", entry, "check")
    assert "name" not in check.options and check.options["pattern"] == "ok"
    assert (source.name, source.place, source.entry) == (None, "sources[0]", LIST_SOURCE)
    assert (sink.name, sink.place) == (None, "sinks[0]")
    assert (config.name, config.base_dir, config.crawl_entry) == ("nightly", tmp_path, {"concurrency": 4})
    assert config.output_dir is None and config.outputs_dir == tmp_path
    assert dataclasses.replace(config, output_dir=tmp_path / "out").outputs_dir == tmp_path / "out"


def test_a_config_built_from_data_is_named_crawl_and_resolves_against_the_working_folder(registry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = build_config({"sources": [LIST_SOURCE]}, registry)
    assert (config.name, config.base_dir, config.crawl_entry) == ("crawl", tmp_path, {})


def test_a_config_file_is_named_by_its_path_and_resolves_against_its_folder(registry, tmp_path):
    path = tmp_path / "crawl.yaml"
    path.write_text("sources: [{type: list, targets: [a.example]}]\n")
    config = load_config(path, registry)
    assert (config.name, config.base_dir) == (str(path), tmp_path)


def test_build_config_uses_the_installed_plugins_without_a_registry():
    assert [c.type.name for c in build_config({"sources": [LIST_SOURCE]}).checks] == ["status", "tls_expiry"]


# --- check names ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["", "  ", 3, None], ids=repr)
def test_a_check_name_must_be_a_non_empty_string(name, registry):
    data = {"sources": [LIST_SOURCE], "checks": [{"type": "status", "name": name}]}
    assert problems_of(data, registry) == ["checks[0].name: must be a non-empty string"]


def test_duplicate_check_names_say_which_check_has_it(registry):
    data = {"sources": [LIST_SOURCE], "checks": [
        {"type": "status", "name": "a"}, {"type": "tls_expiry", "name": "a"},
        {"type": "status"}, {"type": "status"},
    ]}
    assert problems_of(data, registry) == [
        "checks[1].name: duplicate check name 'a', checks[0] has it",
        "checks[3].name: duplicate check name 'status', checks[2] has it (its type's default name); give one of them a name",
    ]


def test_the_first_check_keeps_a_name_that_three_share(registry):
    data = {"sources": [LIST_SOURCE], "checks": [{"type": "status", "name": "a"}] * 3}
    assert problems_of(data, registry) == ["checks[1].name: duplicate check name 'a', checks[0] has it",
                                           "checks[2].name: duplicate check name 'a', checks[0] has it"]


def test_a_check_type_whose_options_have_a_name_keeps_that_key():
    class NamedOptions(Schema):
        from marshmallow import fields

        name = fields.String(required=True)

    class NamedCheck(Check):
        type_name = "named"
        Options = NamedOptions

    registry = ComponentRegistry([
        ComponentType("check", "named", NamedCheck, "test"),
        *ComponentRegistry.from_plugins(get_plugin_manager()).all(),
    ])
    config = build_config({"sources": [LIST_SOURCE], "checks": [{"type": "named", "name": "x"}]}, registry)
    assert config.checks[0].options == {"name": "x"} and config.checks[0].name == "named"


# --- messages -----------------------------------------------------------------------------------

def test_messages_are_flattened_with_their_places():
    messages = {"_schema": ["Whole thing."], "a": {0: ["Bad item."], "b": ["Not good."]}, "c": [["Deep."]], "d": "Plain."}
    assert format_messages(messages, "top") == [
        "top: whole thing", "top.a[0]: bad item", "top.a.b: not good", "top.c: deep", "top.d: plain"
    ]
    assert format_messages({"x": ["Unknown field."]}, "") == ["x: unknown key"]


def test_did_you_mean_needs_a_close_name():
    assert did_you_mean("concurency", ["concurrency", "timeout"]) == " (did you mean 'concurrency'?)"
    assert did_you_mean("zzz", ["concurrency"]) == ""


# --- environment expansion -------------------------------------------------------------------

def test_environment_references_expand_everywhere_with_their_place_when_unset(registry, monkeypatch):
    monkeypatch.setenv("HC_HOST", "a.example")
    monkeypatch.delenv("HC_UNSET", raising=False)
    config = build_config({"sources": [{"type": "list", "targets": ["${HC_HOST}", "${HC_UNSET:-b.example}", "${HC_UNSET:-}c"]}]}, registry)
    assert config.sources[0].entry["targets"] == ["a.example", "b.example", "c"]
    problems = problems_of({"sources": [{"type": "list", "targets": ["x", "${HC_UNSET}"]}], "crawl": {"user_agent": "${HC_UNSET}"}}, registry)
    assert "sources[0].targets[1]: environment variable HC_UNSET is not set" in problems
    assert "crawl.user_agent: environment variable HC_UNSET is not set" in problems


def test_only_names_made_of_letters_digits_and_underscores_expand(registry, monkeypatch):
    monkeypatch.setenv("HC_A1", "x")
    config = build_config({"crawl": {"user_agent": "${HC_A1}/${1HC}/${HC-A}"}, "sources": [LIST_SOURCE]}, registry)
    assert config.settings.user_agent == "x/${1HC}/${HC-A}"


# --- building components -----------------------------------------------------------------------

class _Options(Schema):
    pass


def _registry_with(behaviour):
    class Probe(Check):
        type_name = "probe"
        Options = _Options

        @classmethod
        def from_config(cls, options, context):
            return behaviour(cls, options, context)

    return ComponentRegistry([ComponentType("check", "probe", Probe, "probe-plugin"),
                              *ComponentRegistry.from_plugins(get_plugin_manager()).all()])


def _build(registry, tmp_path, checks):
    config = build_config({"sources": [LIST_SOURCE], "checks": checks}, registry)
    return build_components(config.checks, ComponentContext(tmp_path, "run", config.settings))


def test_components_are_built_with_their_names(tmp_path):
    registry = _registry_with(lambda cls, options, context: cls(options, context))
    built = _build(registry, tmp_path, [{"type": "probe", "name": "first"}, {"type": "probe"}])
    assert [c.configured_name for c in built] == ["first", "probe"]


def test_a_disabled_component_is_left_out_and_logged(tmp_path, caplog):
    def disabled(cls, options, context):
        raise ComponentDisabled("no licence here")

    with caplog.at_level(logging.WARNING, logger="healthcrawl"):
        built = _build(_registry_with(disabled), tmp_path, [{"type": "probe"}, {"type": "status"}])
    assert [c.configured_name for c in built] == ["status"]
    assert "checks[0] (probe) is disabled: no licence here" in caplog.text


def test_a_config_error_of_a_component_is_prefixed_with_its_place(tmp_path):
    def refused(cls, options, context):
        raise ConfigError(["path: not found", "mode: bad"])

    with pytest.raises(ConfigError) as caught:
        _build(_registry_with(refused), tmp_path, [{"type": "probe"}])
    assert caught.value.problems == ["checks[0]: path: not found", "checks[0]: mode: bad"]


def test_any_other_error_of_a_component_names_its_plugin(tmp_path):
    def broken(cls, options, context):
        raise KeyError("oops")

    with pytest.raises(ConfigError) as caught:
        _build(_registry_with(broken), tmp_path, [{"type": "probe"}])
    assert caught.value.problems == ["checks[0]: check type 'probe' of plugin 'probe-plugin' failed to start: KeyError: 'oops'"]
    assert isinstance(caught.value.__cause__, KeyError)


# --- defaults ---------------------------------------------------------------------------------

def test_every_default_of_the_crawl_section(registry, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: 6)
    settings = settings_of({}, registry)
    assert settings == CrawlSettings(workers=6)
    assert dataclasses.asdict(settings) == {
        "concurrency": 256, "timeout": 10.0, "linger": True, "verify": True, "max_body_bytes": 1_048_576,
        "max_redirects": 10, "user_agent": settings.user_agent, "proxy": None, "nameservers": (), "resolver": "thread",
        "per_host_concurrency": None, "per_host_delay": 0.0, "batch_size": 500, "workers": 6,
        "deny_networks": (), "allow_networks": (),
        "request": dataclasses.asdict(RequestSpec()),
        "retries": dataclasses.asdict(RetrySettings()),
        "distributed": dataclasses.asdict(DistributedSettings()),
    }
    assert settings.user_agent.startswith("healthcrawl/") and len(settings.user_agent) > len("healthcrawl/")


def test_workers_default_to_one_when_the_cpus_are_unknown(registry, monkeypatch):
    monkeypatch.setattr(os, "cpu_count", lambda: None)
    assert settings_of({}, registry).workers == 1 == CrawlSettings().workers


def test_every_default_of_retries_distributed_and_the_request():
    assert RetrySettings() == RetrySettings(
        attempts=1, on_error_kinds=("connect_refused", "connect_timeout", "connect_error", "connection_reset", "timeout"),
        on_status=(502, 503, 504), backoff=0.5, within_deadline=True,
    )
    assert DistributedSettings() == DistributedSettings(
        broker=None, chunk_size=200, chunk_deadline=600.0, max_enqueued_chunks=500, max_attempts=3,
    )
    assert RequestSpec() == RequestSpec(
        method="GET", headers=(), body=None, auth=None, client_cert=None, client_key=None, follow_redirects=True,
    )


def test_loaded_defaults_have_the_types_of_the_settings(registry):
    settings = settings_of({}, registry)
    assert type(settings.nameservers) is tuple and type(settings.retries.on_status) is tuple
    assert type(settings.retries.on_error_kinds) is tuple and type(settings.request) is RequestSpec
    assert type(settings.distributed) is DistributedSettings and type(settings.retries) is RetrySettings


# --- ranges: each end accepted, one beyond rejected ---------------------------------------------

RANGES = [  # (place in crawl, minimum, maximum, excluded minimum)
    ("concurrency", 1, 100_000, False),
    ("timeout", 0, 3600, True),
    ("max_body_bytes", 0, 1 << 30, False),
    ("max_redirects", 0, 100, False),
    ("per_host_concurrency", 1, 100_000, False),
    ("per_host_delay", 0, 3600, False),
    ("batch_size", 1, 100_000, False),
    ("workers", 1, 1024, False),
    ("retries.attempts", 1, 100, False),
    ("retries.backoff", 0, 3600, False),
    ("distributed.chunk_size", 1, 100_000, False),
    ("distributed.chunk_deadline", 0, 86_400, True),
    ("distributed.max_enqueued_chunks", 1, 100_000, False),
    ("distributed.max_attempts", 1, 100, False),
]


def _nest(place: str, value) -> dict:
    section, _, key = place.rpartition(".")
    return {section: {key: value}} if section else {key: value}


def _value(settings: CrawlSettings, place: str):
    for part in place.split("."):
        settings = getattr(settings, part)
    return settings


@pytest.mark.parametrize("place, minimum, maximum, above", RANGES, ids=[r[0] for r in RANGES])
def test_each_range_accepts_its_ends_and_rejects_one_beyond(place, minimum, maximum, above, registry):
    step = 1 if isinstance(minimum, int) and place.split(".")[-1] not in ("timeout", "per_host_delay", "backoff", "chunk_deadline") else 0.001
    lowest = minimum + step if above else minimum
    assert _value(settings_of(_nest(place, lowest), registry), place) == lowest
    assert _value(settings_of(_nest(place, maximum), registry), place) == maximum
    below = crawl_problems(_nest(place, minimum if above else minimum - step), registry)
    assert below == [f"crawl.{place}: must be {'more than' if above else 'at least'} {minimum}"]
    over = crawl_problems(_nest(place, maximum + step), registry)
    assert over == [f"crawl.{place}: must be at most {maximum}"]


@pytest.mark.parametrize("value, problem", [(99, "must be a status code (100-599)"), (600, "must be a status code (100-599)"),
                                            (502.5, "must be a whole number")])
def test_retried_statuses_are_status_codes(value, problem, registry):
    assert crawl_problems({"retries": {"on_status": [500, value]}}, registry) == [f"crawl.retries.on_status[1]: {problem}"]
    assert settings_of({"retries": {"on_status": [100, 599]}}, registry).retries.on_status == (100, 599)


def test_retried_error_kinds_are_known_error_kinds(registry):
    problems = crawl_problems({"retries": {"on_error_kinds": ["timeout", "slow"]}}, registry)
    assert len(problems) == 1 and problems[0].startswith("crawl.retries.on_error_kinds[1]: must be one of: ")
    assert settings_of({"retries": {"on_error_kinds": ["timeout"]}}, registry).retries.on_error_kinds == ("timeout",)


def test_per_host_concurrency_may_be_null(registry):
    assert settings_of({"per_host_concurrency": None}, registry).per_host_concurrency is None


# --- retries ----------------------------------------------------------------------------------

def test_which_failures_are_retried():
    retries = RetrySettings(on_error_kinds=("timeout",), on_status=(503,))
    assert retries.is_transient("timeout", None) and not retries.is_transient("dns_error", None)
    assert retries.is_transient(None, 503) and not retries.is_transient(None, 500)
    assert not retries.is_transient("dns_error", 503)  # an error kind decides, whatever the status


def test_the_wait_doubles_from_the_backoff():
    assert [RetrySettings(backoff=0.5).wait_before(n) for n in (2, 3, 4)] == [0.5, 1.0, 2.0]


def test_loaded_retries(registry):
    retries = settings_of({"retries": {"attempts": 3, "backoff": 0, "within_deadline": False, "on_status": [500]}}, registry).retries
    assert retries == RetrySettings(attempts=3, backoff=0.0, within_deadline=False, on_status=(500,))


# --- numbers ----------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [("16", 16), (" 16 ", 16), ("+16", 16), ("0016", 16), ("1" * 6, 111111)])
def test_an_integer_may_be_a_string_of_digits(text, value, registry):
    assert settings_of({"max_body_bytes": text}, registry).max_body_bytes == value


@pytest.mark.parametrize("text", ["-1", "1" * 31, "1_000", "0x10", "", "1e3"])
def test_other_strings_are_not_integers_or_are_out_of_range(text, registry):
    problem = crawl_problems({"max_body_bytes": text}, registry)
    assert problem in (["crawl.max_body_bytes: must be a whole number"], ["crawl.max_body_bytes: must be at least 0"])
    assert problem == (["crawl.max_body_bytes: must be at least 0"] if text == "-1" else ["crawl.max_body_bytes: must be a whole number"])


def test_thirty_digits_are_read_before_the_range_applies(registry):
    assert crawl_problems({"max_body_bytes": "9" * 30}, registry) == ["crawl.max_body_bytes: must be at most 1073741824"]


def test_bounded_fields_say_which_end_was_crossed():
    class Options(Schema):
        count = bounded_integer(2, 5, validate=validate.NoneOf([4]))
        listed = bounded_integer(2, 5, validate=[validate.NoneOf([3])])
        ratio = bounded_number(0.5, 1.5, above=True)
        share = bounded_number(0.5, 1.5)
        floor = bounded_integer(0, 10, validate=at_least(1))

    schema = Options()
    assert schema.load({"count": 2, "listed": 5, "ratio": 1.5, "share": 0.5, "floor": 1}) == {
        "count": 2, "listed": 5, "ratio": 1.5, "share": 0.5, "floor": 1
    }
    with pytest.raises(ValidationError) as caught:
        schema.load({"count": 4, "listed": 3, "ratio": 0.5, "share": 1.6, "floor": 0})
    assert caught.value.messages == {
        "count": ["Invalid input."], "listed": ["Invalid input."], "ratio": ["must be more than 0.5"],
        "share": ["must be at most 1.5"], "floor": ["must be at least 1"],
    }
    with pytest.raises(ValidationError) as caught:
        schema.load({"count": 1, "ratio": 2})
    assert caught.value.messages == {"count": ["must be at least 2"], "ratio": ["must be at most 1.5"]}


def test_an_excluded_maximum_reads_less_than():
    from healthcrawl.configuration.numbers import Bounds

    assert Bounds(max=5, max_inclusive=False)(4.9) == 4.9
    with pytest.raises(ValidationError, match="^must be less than 5$"):
        Bounds(max=5, max_inclusive=False)(5)
    assert Bounds(min=1)(10**100) == 10**100


# --- verify -----------------------------------------------------------------------------------

@pytest.mark.parametrize("value, loaded", [(True, True), (False, False), ("true", True), ("FALSE", False), ("True", True)])
def test_verify_is_a_boolean_or_its_text(value, loaded, registry):
    assert settings_of({"verify": value}, registry).verify is loaded


@pytest.mark.parametrize("value", ["", 1, None, ["x"]], ids=repr)
def test_verify_that_is_neither_is_rejected(value, registry):
    problems = crawl_problems({"verify": value}, registry)
    assert problems in (["crawl.verify: must be true, false or the path of a CA bundle"], ["crawl.verify: field may not be null"])


def test_verify_names_a_missing_bundle(registry, tmp_path):
    assert crawl_problems({"verify": str(tmp_path / "no.pem")}, registry) == [f"crawl.verify: no CA bundle at {tmp_path / 'no.pem'}"]


def test_an_unreadable_bundle_is_rejected(registry, tmp_path):
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate")
    bundle.chmod(0)
    problems = crawl_problems({"verify": str(bundle)}, registry)
    if os.access(bundle, os.R_OK):  # root reads it anyway: then it is not a bundle
        assert problems[0].startswith(f"crawl.verify: {bundle} is not a CA bundle (PEM certificates): ")
    else:
        assert problems == [f"crawl.verify: {bundle} is not a CA bundle (PEM certificates): Permission denied"]


# --- other crawl settings ---------------------------------------------------------------------

@pytest.mark.parametrize("proxy", ["http://p:8080", "https://p", "socks5h://p:1080", "socks4a://p", "socks4://p", "socks5://p"])
def test_proxy_schemes(proxy, registry, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: object() if name == "socks" else real(name, *a))
    assert settings_of({"proxy": proxy}, registry).proxy == proxy


@pytest.mark.parametrize("proxy", ["ftp://p", "p:8080", "xhttp://p", "socks6://p"])
def test_other_proxies_are_rejected(proxy, registry):
    assert crawl_problems({"proxy": proxy}, registry) == ["crawl.proxy: must be an http, https or socks URL"]


def test_resolver_is_one_of_the_resolvers(registry):
    assert crawl_problems({"resolver": "magic"}, registry) == ["crawl.resolver: must be one of: thread, ares"]
    assert settings_of({"resolver": "ares"}, registry).resolver == "ares"


def test_each_bad_nameserver_is_named_at_its_index(registry):
    assert crawl_problems({"nameservers": ["127.0.0.1", "nope", "127.0.0.1:x"]}, registry) == [
        "crawl.nameservers[1]: 'nope' is not an \"ip\" or \"ip:port\" nameserver",
        "crawl.nameservers[2]: '127.0.0.1:x' is not an \"ip\" or \"ip:port\" nameserver",
    ]
    assert settings_of({"nameservers": ["127.0.0.1", "[::1]:5353"]}, registry).nameservers == ("127.0.0.1", "[::1]:5353")


def test_ares_needs_one_port_for_all_nameservers(registry):
    two_ports = {"resolver": "ares", "nameservers": ["127.0.0.1:53", "127.0.0.2:5353"]}
    assert crawl_problems(two_ports, registry) == ["crawl.nameservers: with resolver ares, every nameserver must use the same port"]
    assert settings_of({**two_ports, "resolver": "thread"}, registry).nameservers == ("127.0.0.1:53", "127.0.0.2:5353")
    assert settings_of({"resolver": "ares", "nameservers": ["127.0.0.1", "127.0.0.2:53"]}, registry).resolver == "ares"


def test_settings_as_a_record_mask_secrets(registry):
    settings = settings_of({
        "proxy": "http://user:pw@proxy:3128", "nameservers": ["127.0.0.1"],
        "retries": {"on_status": [503]}, "request": {"headers": {"Cookie": "c=1", "X-A": "b"}},
    }, registry)
    record = settings.to_record()
    assert record["proxy"] == "http://user:***@proxy:3128" and record["nameservers"] == ["127.0.0.1"]
    assert record["retries"] == {**dataclasses.asdict(settings.retries), "on_status": [503],
                                 "on_error_kinds": list(settings.retries.on_error_kinds)}
    assert record["request"]["headers"] == {"Cookie": "***", "X-A": "b"}
    assert record["distributed"] == {**dataclasses.asdict(DistributedSettings()), "broker": None}
    assert record["concurrency"] == 256 and record["workers"] == settings.workers
    assert CrawlSettings(distributed=DistributedSettings(broker="amqp://u:pw@h//")).to_record()["distributed"]["broker"] == "amqp://u:***@h//"
    assert CrawlSettings().to_record()["proxy"] is None


# --- distributed ------------------------------------------------------------------------------

@pytest.mark.parametrize("broker, problem", [
    ("redis://u:pw@h:6379/0", "redis://u:***@h:6379/0: a Redis broker does not redeliver a dead worker's chunks in time; use RabbitMQ (amqp://)"),
    ("REDISS://h", "REDISS://h: a Redis broker does not redeliver a dead worker's chunks in time; use RabbitMQ (amqp://)"),
    ("http://u:pw@h", "http://u:***@h: must be an amqp:// or amqps:// URL"),
    ("h:5672", "h:5672: must be an amqp:// or amqps:// URL"),
])
def test_the_broker_must_be_rabbitmq(broker, problem, registry):
    assert crawl_problems({"distributed": {"broker": broker}}, registry) == [f"crawl.distributed.broker: {problem}"]


@pytest.mark.parametrize("broker", ["amqp://h//", "AMQPS://h", "pyamqp://h"])
def test_rabbitmq_brokers_are_accepted(broker, registry):
    pytest.importorskip("celery")
    assert settings_of({"distributed": {"broker": broker}}, registry).distributed.broker == broker


def test_a_broker_without_celery_names_the_extra(registry, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "celery" else real(name, *a))
    assert crawl_problems({"distributed": {"broker": "amqp://h//"}}, registry) == [
        "crawl.distributed.broker: a distributed crawl needs Celery: pip install 'healthcrawl[distributed]'"
    ]


# --- the request ------------------------------------------------------------------------------

@pytest.mark.parametrize("request_section, problem", [
    ({"headers": ["X-A: b"]}, 'crawl.request.headers: must be a mapping of header names to values, e.g. {"Accept": "application/json"}'),
    ({"headers": {"X-A": True}}, "crawl.request.headers: header X-A: the value must be text"),
    ({"headers": {"X-A": ["b"]}}, "crawl.request.headers: header X-A: the value must be text"),
    ({"headers": {"X:A": "b"}}, "crawl.request.headers: 'X:A' is not a valid header name"),
    ({"headers": {"": "b"}}, "crawl.request.headers: '' is not a valid header name"),
    ({"headers": {3: "b"}}, "crawl.request.headers: 3 is not a valid header name"),
    ({"headers": "X-A b"}, "crawl.request.headers: 'X-A b' is not a 'Name: value' header line"),
    ({"headers": "{not json"}, "crawl.request.headers: not a JSON object of headers: "),
    ({"method": "fetch"}, "crawl.request.method: must be one of: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"),
    ({"auth": {"type": "digest"}}, "crawl.request.auth.type: must be basic or bearer"),
    ({"auth": {"username": "u"}}, "crawl.request.auth.type: missing data for required field"),
    ({"auth": {"type": "basic"}}, "crawl.request.auth.username: basic auth needs a username"),
    ({"auth": {"type": "bearer", "token": ""}}, "crawl.request.auth.token: bearer auth needs a token"),
    ({"auth": {"type": "basic", "username": "u", "passwrd": "p"}}, "crawl.request.auth.passwrd: unknown key (did you mean 'password'?)"),
    ({"client_key": "k.pem"}, "crawl.request.client_key: client_key needs client_cert"),
    ({"folow_redirects": False}, "crawl.request.folow_redirects: unknown key (did you mean 'follow_redirects'?)"),
])
def test_each_rejection_of_the_request(request_section, problem, registry):
    problems = crawl_problems({"request": request_section}, registry)
    assert len(problems) == 1 and problems[0].startswith(problem), problems


def test_header_lines_and_json_objects(registry):
    lines = settings_of({"request": {"headers": "X-A: 1\n\n  X-B :  two: 2  \n"}}, registry).request.headers
    assert lines == (("X-A", "1"), ("X-B", "two: 2"))
    assert settings_of({"request": {"headers": ' {"X-A": 1.5}'}}, registry).request.headers == (("X-A", "1.5"),)
    assert settings_of({"request": {"headers": {"X-A": 3, "Accept": ""}}}, registry).request.headers == (("X-A", "3"), ("Accept", ""))


def test_the_request_as_loaded(registry):
    request = settings_of({"request": {"method": "post", "json": {"a": 1}, "follow_redirects": False,
                                       "auth": {"type": "basic", "username": "u"}}}, registry).request
    assert request.method == "POST" and request.body == b'{"a": 1}' and request.follow_redirects is False
    assert request.headers == (("Content-Type", "application/json"),) and request.auth == ("basic", "u", "")
    request = settings_of({"request": {"json": [1], "headers": {"content-type": "application/x"}}}, registry).request
    assert request.headers == (("content-type", "application/x"),) and request.body == b"[1]"
    assert settings_of({"request": {"body": "é"}}, registry).request.body == "é".encode()
    bearer = settings_of({"request": {"auth": {"type": "bearer", "token": "t"}}}, registry).request
    assert bearer.auth == ("bearer", "t") and bearer.basic_auth is None


def test_request_spec_overrides_merge_headers_by_name():
    base = RequestSpec(headers=(("Accept", "a"), ("X-Keep", "k")), method="GET")
    assert base.overridden({}) is base
    merged = base.overridden({"headers": (("accept", "b"),), "method": "HEAD"})
    assert merged.headers == (("X-Keep", "k"), ("accept", "b")) and merged.method == "HEAD"
    assert base.overridden({"method": "POST"}).headers == base.headers


def test_request_headers_add_a_bearer_token_unless_authorization_is_set():
    assert RequestSpec(auth=("bearer", "t")).request_headers() == {"Authorization": "Bearer t"}
    own = RequestSpec(headers=(("Authorization", "x"),), auth=("bearer", "t"))
    assert own.request_headers() == {"Authorization": "x"}
    assert RequestSpec(auth=("basic", "u", "p")).request_headers() == {}
    assert RequestSpec(auth=("basic", "u", "p")).basic_auth == ("u", "p")


def test_a_request_record_masks_secrets():
    spec = RequestSpec(method="POST", headers=(("Authorization", "a"), ("X-Api-Key", "k"), ("Proxy-Authorization", "p"),
                                               ("X-A", "b")), body=b"\xff", auth=("basic", "u", "p"), client_cert="c.pem")
    assert spec.to_record() == {
        "method": "POST", "headers": {"Authorization": "***", "X-Api-Key": "***", "Proxy-Authorization": "***", "X-A": "b"},
        "body": "\ufffd", "auth": {"type": "basic", "username": "u", "password": "***"},
        "client_cert": "c.pem", "client_key": None, "follow_redirects": True,
    }
    assert RequestSpec(auth=("bearer", "t")).to_record()["auth"] == {"type": "bearer", "token": "***"}
    assert RequestSpec().to_record()["auth"] is None and RequestSpec().to_record()["body"] is None


def test_target_overrides_read_columns_and_name_a_bad_one():
    assert target_overrides({"method": "", "headers": None, "other": "x"}) == {}
    assert target_overrides({"method": "head", "follow_redirects": "false"}) == {"method": "HEAD", "follow_redirects": False}
    with pytest.raises(ValueError, match=r"^headers: header X-A: the value must be text$"):
        target_overrides({"headers": {"X-A": ["unhashable"]}})
    with pytest.raises(ValueError, match=r"^method: must be one of: GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS\.?$"):
        target_overrides({"method": "fetch"})
    assert target_overrides({"headers": {"X-A": "1"}}) == {"headers": (("X-A", "1"),)}


def test_a_client_key_and_certificate_are_loaded_together(registry, tmp_path):
    import trustme

    ca = trustme.CA()
    cert = ca.issue_cert("client.example")
    cert.cert_chain_pems[0].write_to_path(str(tmp_path / "cert.pem"))
    cert.private_key_pem.write_to_path(str(tmp_path / "key.pem"))
    cert.private_key_and_cert_chain_pem.write_to_path(str(tmp_path / "both.pem"))
    request = settings_of({"request": {"client_cert": str(tmp_path / "cert.pem"), "client_key": str(tmp_path / "key.pem")}}, registry).request
    assert (request.client_cert, request.client_key) == (str(tmp_path / "cert.pem"), str(tmp_path / "key.pem"))
    assert settings_of({"request": {"client_cert": str(tmp_path / "both.pem")}}, registry).request.client_key is None
    problems = crawl_problems({"request": {"client_cert": str(tmp_path / "cert.pem")}}, registry)
    assert len(problems) == 1 and problems[0].startswith("crawl.request.client_cert: cannot load the client certificate: ")


# --- YAML bounds at their ends ---------------------------------------------------------------

def _load_problems(path: Path):
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def test_the_size_bound_counts_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(yaml_reading, "MAX_CONFIG_BYTES", 64)
    path = tmp_path / "crawl.yaml"
    text = "sources: [{type: list, targets: [a.example]}]\n"
    path.write_text(text + "#" * (64 - len(text)))
    assert load_config(path).sources[0].entry == LIST_SOURCE
    path.write_text(text + "#" * (65 - len(text)))
    assert _load_problems(path) == [f"{path}: larger than 0 MiB, the most a config may be (put long target lists in a file source)"]


def test_the_value_bound_counts_aliases_expanded(tmp_path, monkeypatch):
    # mapping, "sources", list, entry, "type", "list", "targets", list, "a.example": 9; "x" and *t (a list of one): 12
    path = tmp_path / "crawl.yaml"
    path.write_text("sources: [{type: list, targets: &t [a.example]}]\nx: *t\n")
    monkeypatch.setattr(yaml_reading, "MAX_VALUES", 12)
    assert _load_problems(path) == ["x: unknown section (expected one of crawl, sources, checks, sinks)"]
    monkeypatch.setattr(yaml_reading, "MAX_VALUES", 11)
    assert _load_problems(path) == [f"{path}:2:4: more than 11 values once aliases are expanded, the most a config may hold"]
    monkeypatch.setattr(yaml_reading, "MAX_VALUES", 8)
    assert _load_problems(path) == [f"{path}:1:37: more than 8 values once aliases are expanded, the most a config may hold"]
    monkeypatch.setattr(yaml_reading, "MAX_VALUES", 7)
    assert _load_problems(path) == [f"{path}:1:33: more than 7 values once aliases are expanded, the most a config may hold"]


def test_the_depth_bound_at_its_end(tmp_path, monkeypatch):
    monkeypatch.setattr(yaml_reading, "MAX_DEPTH", 4)
    path = tmp_path / "crawl.yaml"
    sources = "sources: [{type: list, targets: [a.example]}]\n"  # 4 deep: mapping, list, entry, targets
    path.write_text(sources)
    assert load_config(path).sources[0].entry == LIST_SOURCE
    path.write_text(sources + "x: [[[[1]]]]\n")
    assert _load_problems(path) == [f"{path}:2:7: nested more than 4 deep, the most a config may nest"]
    path.write_text(sources + "a: &a [[1]]\nx: [[*a]]\n")  # 3 deep where the alias is, and 2 in it
    assert _load_problems(path) == [f"{path}:3:6: nested more than 4 deep once aliases are expanded, the most a config may nest"]
    path.write_text(sources + "a: &a [[1]]\nx: [*a]\ns: &s s\ny: [[[*s]]]\n")  # 2 + 2 and 4 + 0 deep: within
    assert [p.split(":")[0] for p in _load_problems(path)] == ["a", "x", "s", "y"]


def test_unreadable_and_undecodable_files(tmp_path):
    missing = tmp_path / "missing.yaml"
    assert _load_problems(missing) == [f"{missing}: cannot read: No such file or directory"]
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"crawl: {user_agent: caf\xe9}\n")
    assert _load_problems(latin) == [f"{latin}: not UTF-8 text: invalid continuation byte at byte 23"]


def test_yaml_errors_are_reported_with_line_and_column(tmp_path):
    path = tmp_path / "crawl.yaml"
    path.write_text("sources: [{type: list}\nx: *nowhere\n")
    assert _load_problems(path) == [f"{path}:2:1: not valid YAML: expected ',' or ']', but got '<scalar>' "
                                    "(while parsing a flow sequence at line 1, column 10)"]
    for text in ("a: *nowhere\n", "*nowhere\n"):
        path.write_text(text)
        assert _load_problems(path)[0].startswith(f"{path}:{1}:{len(text) - 8}: not valid YAML: found undefined alias")
    path.write_text("a: 1\n---\nb: 2\n")
    assert _load_problems(path) == [f"{path}:2:1: not valid YAML: but found another document "
                                    "(expected a single document in the stream at line 1, column 1)"]
    path.write_text("a: !!python/object:os.system x\n")
    assert _load_problems(path)[0].startswith(f"{path}:1:4: not valid YAML: could not determine a constructor")


def test_an_empty_file_is_an_empty_config(tmp_path):
    path = tmp_path / "crawl.yaml"
    path.write_text("# nothing\n")
    assert _load_problems(path) == ["sources: at least one source is required"]


def test_header_text_outside_latin_1_is_named(registry):
    assert crawl_problems({"request": {"headers": {"X-A": "a€"}}}, registry) == [
        "crawl.request.headers: header X-A: the value contains '€', which is not Latin-1 (a header is Latin-1 text)"
    ]
    assert settings_of({"request": {"headers": {"X-A": "café"}}}, registry).request.headers == (("X-A", "café"),)


def test_auth_types_are_compared_by_value_as_read_from_a_file(tmp_path):
    """Strings read from YAML are not the interned constants of the code: ``is`` would not match them."""
    basic = "".join(["ba", "sic"])
    path = tmp_path / "crawl.yaml"
    path.write_text("crawl: {request: {auth: {type: basic}}}\nsources: [{type: list, targets: [a.example]}]\n")
    assert _load_problems(path) == ["crawl.request.auth.username: basic auth needs a username"]
    assert build_config(
        {"crawl": {"request": {"auth": {"type": basic, "username": "u", "password": "p"}}}, "sources": [LIST_SOURCE]}
    ).settings.request.auth == ("basic", "u", "p")


def test_an_excluded_minimum_refuses_what_is_below_it_too():
    from healthcrawl.configuration.numbers import Bounds

    for value in (0.5, 0.2, -1):
        with pytest.raises(ValidationError, match="^must be more than 0.5$"):
            Bounds(min=0.5, min_inclusive=False)(value)


def test_bounded_fields_take_their_ends_by_name_and_the_rest_only_by_keyword():
    assert bounded_number(minimum=0, maximum=1).validators[0].max == 1
    assert bounded_integer(minimum=0, maximum=1).validators[0].max == 1
    with pytest.raises(TypeError):
        bounded_number(0, 1, True)  # above=True must be said


def test_the_documented_bounds_of_a_config_file():
    assert (yaml_reading.MAX_CONFIG_BYTES, yaml_reading.MAX_DEPTH, yaml_reading.MAX_VALUES) == (4 * 1024 * 1024, 64, 1_000_000)


def test_an_undefined_alias_counts_as_one_value(tmp_path, monkeypatch):
    path = tmp_path / "crawl.yaml"
    path.write_text("a: *nowhere\n")  # the mapping, "a" and the alias: 3 values, then the loader refuses the alias
    monkeypatch.setattr(yaml_reading, "MAX_VALUES", 3)
    assert _load_problems(path)[0].startswith(f"{path}:1:4: not valid YAML: found undefined alias")
