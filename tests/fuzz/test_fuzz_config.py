"""Fuzzing the config loader: any text in a config file, and any mapping given to ``build_config``, is a
``CrawlConfig`` or a ``ConfigError``, nothing else."""

import tempfile
from pathlib import Path

import yaml
from hypothesis import Phase, example, given, settings
from hypothesis import strategies as st

from healthcrawl import ConfigError, load_config
from healthcrawl.configuration.loading import CrawlConfig, build_config
from healthcrawl.plugin_system.manager import get_plugin_manager
from healthcrawl.plugin_system.registry import ComponentRegistry

REGISTRY = ComponentRegistry.from_plugins(get_plugin_manager())
KNOWN_KEYS = [  # keys that reach deeper than random ones
    "crawl", "sources", "checks", "sinks", "type", "name", "targets", "path", "timeout", "concurrency", "workers",
    "per_host_concurrency", "per_host_delay", "retries", "max_redirects", "verify", "proxy", "user_agent",
    "headers", "expect", "regex", "min_days", "url", "column", "request", "method", "body", "follow_redirects",
]
scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
    st.sampled_from(["list", "file", "csv", "status", "body_match", "tls_expiry", "jsonl", "sqlalchemy",
                     "example.com", "${HOME}", "${NOPE_UNSET}", "1e11", "-1", "0", "2**64"]),
)
keys = st.one_of(st.sampled_from(KNOWN_KEYS), st.text(max_size=10), st.integers())
values = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=4)),
                      max_leaves=25)
configs = st.fixed_dictionaries(
    {},
    optional={
        "crawl": st.dictionaries(st.sampled_from(KNOWN_KEYS), values, max_size=5),
        "sources": st.lists(st.dictionaries(st.sampled_from(KNOWN_KEYS), values, max_size=4), max_size=3),
        "checks": st.lists(st.dictionaries(st.sampled_from(KNOWN_KEYS), values, max_size=4), max_size=3),
        "sinks": values,
    },
)


def outcome_of(load):
    try:
        return load()
    except ConfigError as error:
        assert str(error).strip(), "a ConfigError says what is wrong"
        return error


@given(st.one_of(configs, values))
def test_any_mapping_is_a_config_or_a_config_error(data):
    assert isinstance(outcome_of(lambda: build_config(data, REGISTRY)), (CrawlConfig, ConfigError))


yaml_ish = st.one_of(
    st.text(),
    configs.map(lambda data: yaml.safe_dump(data, allow_unicode=True)),
    st.lists(st.sampled_from(["crawl:", "sources:", "- ", "  ", "type: list", "targets: [", "]", "{", "}", "&a ", "*a",
                              "!!python/object:os.system", "? ", ": ", "'", '"', "\n", "\t", "%YAML 1.1", "---"]))
    .map("".join),
)


@given(yaml_ish)
def test_any_config_file_text_is_a_config_or_a_config_error(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "crawl.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogatepass")
        assert isinstance(outcome_of(lambda: load_config(path, REGISTRY)), (CrawlConfig, ConfigError))


@settings(max_examples=10, phases=[Phase.explicit, Phase.generate])  # no shrinking: each try parses deep YAML
@given(st.integers(1, 5000), st.sampled_from(["[", "{a: "]))
@example(5000, "{a: ")
def test_deeply_nested_config_text_is_a_config_error(depth, opener):
    closer = {"[": "]", "{a: ": "}"}[opener]
    test_any_config_file_text_is_a_config_or_a_config_error.hypothesis.inner_test(
        f"sources: {opener * depth}1{closer * depth}\n"
    )
