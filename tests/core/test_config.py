"""Config loading: defaults, environment expansion, and one readable line per problem with its place."""

import subprocess
import sys
import textwrap

import pytest

from healthcrawl import ConfigError, CrawlSettings
from healthcrawl.configuration.loading import build_config, load_config

from .conftest import problems_of


def test_defaults_follow_the_contract(registry):
    config = build_config({"sources": [{"type": "list", "targets": ["example.com"]}]}, registry)
    assert config.settings == CrawlSettings()
    assert config.settings.concurrency == 256 and config.settings.timeout == 10
    assert config.settings.linger is True and config.settings.verify is True
    assert config.settings.max_body_bytes == 1048576 and config.settings.max_redirects == 10
    assert config.settings.user_agent.startswith("healthcrawl/") and config.settings.proxy is None
    assert [c.type.name for c in config.checks] == ["status", "tls_expiry"]
    assert config.sinks == ()


def test_full_example_config_loads(registry):
    config = build_config(
        {
            "crawl": {"concurrency": 16, "timeout": 3, "linger": False, "verify": "/etc/ssl/certs/ca-certificates.crt", "proxy": None},
            "sources": [{"type": "file", "path": "domains.txt"}, {"type": "list", "targets": ["a.example"]}],
            "checks": [{"type": "status", "expect": ["200-399", 418]}, {"type": "body_match", "pattern": "healthy"},
                       {"type": "tls_expiry", "min_days": 14}],
            "sinks": [{"type": "sqlalchemy", "url": "sqlite:///x.db"}, {"type": "jsonl", "path": "r.jsonl"}],
        },
        registry,
    )
    assert config.settings.verify == "/etc/ssl/certs/ca-certificates.crt"
    assert config.checks[0].options["expect"] == ((200, 399), (418, 418))
    assert [s.type.name for s in config.sinks] == ["sqlalchemy", "jsonl"]


def test_bad_value_names_its_place(registry):
    data = {
        "sources": [{"type": "list", "targets": ["x.example"]}],
        "checks": [{"type": "status"}, {"type": "tls_expiry", "min_days": -1}],
    }
    assert problems_of(data, registry) == ["checks[1].min_days: must be at least 0"]


def test_every_problem_is_reported_at_once(registry):
    data = {
        "crawl": {"concurency": 5, "timeout": 0, "verify": "/nonexistent/ca.pem"},
        "sources": [{"type": "nope"}],
        "checks": [{"type": "status", "expect": ["2xx"]}, {"type": "body_match"}],
        "sinks": [{"path": "x"}],
        "extra": 1,
    }
    problems = problems_of(data, registry)
    assert "extra: unknown section (expected one of crawl, sources, checks, sinks)" in problems
    assert "crawl.concurency: unknown key (did you mean 'concurrency'?)" in problems
    assert "crawl.timeout: must be more than 0" in problems
    assert "crawl.verify: no CA bundle at /nonexistent/ca.pem" in problems
    assert any(p.startswith("sources[0].type: unknown source type 'nope' (known: ") for p in problems)
    assert any(p.startswith("checks[0].expect[0]: '2xx' is not a status code") for p in problems)
    assert "checks[1].pattern: missing data for required field" in problems
    assert "sinks[0].type: missing data for required field" in problems


def test_unknown_option_of_a_component_is_an_error(registry):
    data = {"sources": [{"type": "list", "targets": ["a.example"], "target": "typo"}]}
    assert problems_of(data, registry) == ["sources[0].target: unknown key (did you mean 'targets'?)"]


def test_environment_variables_expand(registry, monkeypatch):
    monkeypatch.setenv("HC_DB_PASSWORD", "s3cret")
    data = {
        "sources": [{"type": "list", "targets": ["a.example"]}],
        "sinks": [{"type": "sqlalchemy", "url": "postgresql://u:${HC_DB_PASSWORD}@127.0.0.1/${HC_DB:-test}"}],
    }
    config = build_config(data, registry)
    assert config.sinks[0].options["url"] == "postgresql://u:s3cret@127.0.0.1/test"


def test_verify_from_the_environment_reads_true_and_false(registry, monkeypatch):
    monkeypatch.setenv("HC_VERIFY", "False")
    data = {"crawl": {"verify": "${HC_VERIFY}"}, "sources": [{"type": "list", "targets": ["a.example"]}]}
    assert build_config(data, registry).settings.verify is False
    data["crawl"]["verify"] = "${HC_VERIFY_NOT_SET:-true}"
    assert build_config(data, registry).settings.verify is True


def test_missing_environment_variable_is_named(registry, monkeypatch):
    monkeypatch.delenv("HC_NOT_SET", raising=False)
    data = {"sources": [{"type": "list", "targets": ["a.example"]}], "sinks": [{"type": "jsonl", "path": "${HC_NOT_SET}"}]}
    assert problems_of(data, registry) == ["sinks[0].path: environment variable HC_NOT_SET is not set"]


def test_yaml_syntax_error_is_one_line(tmp_path, registry):
    path = tmp_path / "bad.yaml"
    path.write_text("crawl: {concurrency: [\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, registry)
    assert len(caught.value.problems) == 1 and "not valid YAML" in caught.value.problems[0]


def test_cli_reports_config_errors_with_exit_2_and_no_traceback(tmp_path):
    path = tmp_path / "crawl.yaml"
    path.write_text(textwrap.dedent("""
        sources: [{type: list, targets: [a.example]}]
        checks:
          - type: status
          - type: tls_expiry
            min_days: -3
    """))
    for command in ("run", "validate"):
        proc = subprocess.run([sys.executable, "-m", "healthcrawl", command, str(path)], capture_output=True, text=True)
        assert proc.returncode == 2
        assert proc.stderr.strip() == "error: checks[1].min_days: must be at least 0"
        assert "Traceback" not in proc.stderr


def test_validate_accepts_a_good_config(tmp_path):
    path = tmp_path / "crawl.yaml"
    path.write_text("sources: [{type: list, targets: [a.example]}]\n")
    proc = subprocess.run([sys.executable, "-m", "healthcrawl", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "ok (1 source(s), 2 check(s), 0 sink(s))" in proc.stdout


def test_socks_proxy_without_pysocks_names_the_extra(registry):
    import importlib.util

    data = {"crawl": {"proxy": "socks5h://127.0.0.1:1080"}, "sources": [{"type": "list", "targets": ["a.example"]}]}
    if importlib.util.find_spec("socks") is not None:
        assert build_config(data, registry).settings.proxy == "socks5h://127.0.0.1:1080"
    else:
        assert problems_of(data, registry) == ["crawl.proxy: a socks proxy needs PySocks: pip install 'healthcrawl[socks]'"]
