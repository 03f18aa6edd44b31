"""Named checks: two checks of one type are told apart in outcomes, the summary, the database, ``show`` and ``diff``."""

import json
import sqlite3

import pytest
from marshmallow import Schema, fields

from healthcrawl import Check, ConfigError, build_config, hookimpl
from healthcrawl.testing.servers import HTTPTestServer


def config_with(checks, sinks=(), targets=("http://127.0.0.1:1/",), crawl=None):
    return {"crawl": {"timeout": 5, "workers": 1, **(crawl or {})},
            "sources": [{"type": "list", "targets": list(targets)}], "checks": list(checks), "sinks": list(sinks)}


def test_a_check_is_named_after_its_type_unless_named():
    config = build_config(config_with([{"type": "status"}, {"type": "body_match", "name": "has-title", "pattern": "x"}]))
    assert [spec.name for spec in config.checks] == ["status", "has-title"]


def test_duplicate_names_are_a_config_error_naming_the_duplicate():
    checks = [{"type": "body_match", "pattern": "a"}, {"type": "body_match", "pattern": "b"},
              {"type": "status", "name": "up"}, {"type": "body_match", "name": "up", "pattern": "c"}]
    with pytest.raises(ConfigError) as raised:
        build_config(config_with(checks))
    assert raised.value.problems == [
        "checks[1].name: duplicate check name 'body_match', checks[0] has it (its type's default name); "
        "give one of them a name",
        "checks[3].name: duplicate check name 'up', checks[2] has it",
    ]


def test_an_empty_name_is_a_config_error():
    with pytest.raises(ConfigError) as raised:
        build_config(config_with([{"type": "status", "name": " "}]))
    assert raised.value.problems == ["checks[0].name: must be a non-empty string"]


def test_names_reach_outcomes_summary_database_show_and_diff(tmp_path, healthcrawl_cli, healthcrawl_ca):
    with HTTPTestServer(tls=True, ca=healthcrawl_ca, days_left=30) as server:
        server.route("/", body="<title>Home</title> welcome")
        target = server.url("/", host="localhost")
        config = tmp_path / "crawl.yaml"

        def run(expiry_days):
            checks = [{"type": "body_match", "name": "has-title", "pattern": "<title>"},
                      {"type": "body_match", "name": "no-error", "pattern": "error", "negate": True},
                      {"type": "body_match", "name": "says-goodbye", "pattern": "goodbye"},
                      {"type": "tls_expiry", "name": "cert-30d", "min_days": expiry_days}]
            sinks = [{"type": "jsonl", "path": str(tmp_path / f"results-{expiry_days}.jsonl")},
                     {"type": "sqlalchemy", "url": f"sqlite:///{tmp_path}/results.db"}]
            config.write_text(json.dumps(config_with(checks, sinks, [target], {"verify": healthcrawl_ca.ca_bundle_path})))
            proc = healthcrawl_cli("run", config, cwd=tmp_path)
            assert proc.exit_code == 0, proc.stderr
            return proc

        first = run(14)
        second = run(60)
    records = [json.loads((tmp_path / f"results-{days}.jsonl").read_text()) for days in (14, 60)]
    assert [(c["name"], c["ok"]) for c in records[0]["checks"]] == [
        ("has-title", True), ("no-error", True), ("says-goodbye", False), ("cert-30d", True)]
    assert "says-goodbye" in first.stdout and "says-goodbye" in second.stdout
    with sqlite3.connect(tmp_path / "results.db") as db:
        names = {row[0] for row in db.execute("SELECT name FROM check_outcomes")}
    assert names == {"has-title", "no-error", "says-goodbye", "cert-30d"}
    run_a, run_b = records[0]["run_id"], records[1]["run_id"]
    shown = healthcrawl_cli("show", run_b, "--config", config, cwd=tmp_path)
    assert "says-goodbye" in shown.stdout and "cert-30d" in shown.stdout
    diff = healthcrawl_cli("diff", run_a, run_b, "--config", config, "--format", "json", cwd=tmp_path)
    assert diff.exit_code == 0, diff.stderr
    crossed = json.loads(diff.stdout)["tls_expiry_crossed"]
    assert [item["target"] for item in crossed] == [target]


class OptionNamedName(Check):
    """An older plugin's check whose own options have a ``name`` key."""

    type_name = "header_present_legacy"

    class Options(Schema):
        name = fields.String(required=True)

    def evaluate(self, snapshot):
        return self.outcome(self.options["name"] in snapshot.headers)


class LegacyPlugin:
    @hookimpl
    def healthcrawl_register_checks(self, register):
        register(OptionNamedName)


def test_a_check_whose_options_have_a_name_keeps_it(register_plugin):
    register_plugin(LegacyPlugin(), name="legacy-plugin")
    config = build_config(config_with([{"type": "header_present_legacy", "name": "X-Kind"}]))
    (spec,) = config.checks
    assert spec.options == {"name": "X-Kind"} and spec.name == "header_present_legacy"
