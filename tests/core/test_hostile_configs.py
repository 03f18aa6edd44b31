"""Hostile configs end in one config error line naming the problem: never a traceback, a hang or gigabytes.

YAML is bounded (size, nesting, aliases expanded), every number has a range and integers are strict,
a CA bundle is loaded when the config is validated, and header text is checked before it is sent.
"""

import resource
import subprocess
import sys
from pathlib import Path

import pytest
from marshmallow import Schema, fields, validate

from healthcrawl import ConfigError, build_config, load_config
from healthcrawl.configuration.numbers import WholeNumber
from healthcrawl.configuration.settings import CrawlSettingsSchema
from healthcrawl.configuration.yaml_reading import MAX_CONFIG_BYTES, MAX_DEPTH, MAX_VALUES

from .conftest import problems_of

SOURCES = "sources: [{type: list, targets: [a.example]}]\n"
HANG_GUARD_SECONDS = 120  # a bound that only a hang reaches; a bounded config fails in about a second
MEMORY_LIMIT = 1 << 30  # the alias bomb took 2 GB before it was bounded


def _alias_bomb() -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]" for n in range(1, 10)]
    return "crawl:\n  user_agent: x\n" + SOURCES + "x-bomb:\n" + "".join(f"  {line}\n" for line in lines)


def _deep_aliases() -> str:
    """Each anchor nests the one before: shallow as written, deeper than the bound once expanded."""
    lines = ["a0: &a0 [[[[[[[[1]]]]]]]]"]
    lines += [f"a{n}: &a{n} [[[[[[[[*a{n - 1}]]]]]]]]" for n in range(1, 12)]
    return SOURCES + "x-deep:\n" + "".join(f"  {line}\n" for line in lines)


YAML_CASES = {
    "alias bomb": (_alias_bomb, f"more than {MAX_VALUES:,} values once aliases are expanded"),
    "aliases nested deep": (_deep_aliases, f"nested more than {MAX_DEPTH} deep once aliases are expanded"),
    "5,000 deep flow lists": (lambda: SOURCES + "crawl: " + "[" * 5000 + "]" * 5000 + "\n", "nest"),  # libyaml's own bound
    "5,000 deep block lists": (lambda: SOURCES + "crawl:\n" + "- " * 5000 + "1\n", f"nested more than {MAX_DEPTH} deep"),
    "100 deep flow mappings": (lambda: SOURCES + "crawl: " + "{a: " * 100 + "1" + "}" * 100 + "\n", f"nested more than {MAX_DEPTH} deep"),
    "100 deep block mappings": (
        lambda: SOURCES + "crawl:\n" + "".join(" " * depth + "a:\n" for depth in range(1, 101)),
        f"nested more than {MAX_DEPTH} deep",
    ),
    "self-referencing mapping": (lambda: SOURCES + "crawl: &c {request: *c}\n", "alias *c refers to a value that contains it"),
    "self-referencing list": (lambda: "sources: &s [*s]\n", "alias *s refers to a value that contains it"),
    "huge file": (lambda: SOURCES + "#" * (MAX_CONFIG_BYTES + 10) + "\n", "larger than 4 MiB"),
    "5,000-digit integer": (
        lambda: SOURCES + "crawl: {concurrency: 1" + "0" * 5000 + "}\n",
        "a value cannot be read: Exceeds the limit (4300 digits) for integer string conversion: value has 5001 digits\n",
    ),
}


def _validate_bounded(path) -> subprocess.CompletedProcess:
    """``healthcrawl validate PATH`` in a process limited to 1 GiB, stopped if it hangs."""

    def limit_memory():
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))

    try:
        return subprocess.run(
            [sys.executable, "-m", "healthcrawl", "validate", str(path)],
            capture_output=True, text=True, timeout=HANG_GUARD_SECONDS, preexec_fn=limit_memory,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"healthcrawl validate hung on {path} (stopped after {HANG_GUARD_SECONDS} s)")


@pytest.mark.parametrize("case", list(YAML_CASES))
def test_hostile_yaml_is_one_config_error_line(case, tmp_path):
    make, reason = YAML_CASES[case]
    path = tmp_path / "crawl.yaml"
    path.write_text(make())
    proc = _validate_bounded(path)
    assert "Traceback" not in proc.stderr
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith(f"error: {path}"), proc.stderr[-2000:]
    assert reason in proc.stderr


def test_an_endless_file_is_read_no_further_than_the_bound():
    proc = _validate_bounded("/dev/zero")
    assert proc.returncode == 2 and proc.stderr == (
        "error: /dev/zero: larger than 4 MiB, the most a config may be (put long target lists in a file source)\n"
    )


def test_configs_within_the_bounds_load(tmp_path):
    """Aliases that stay within the bounds are fine, and the deepest allowed nesting loads."""
    path = tmp_path / "crawl.yaml"
    path.write_text(
        "x-request: &request {headers: {Accept: text/plain}}\n"
        "crawl: {request: *request}\n"
        "sources: [{type: list, targets: [a.example], request: *request}]\n"
        "x-deep: " + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "\n"
    )
    with pytest.raises(ConfigError) as caught:  # the anchor's key is no section, but everything else loaded
        load_config(path)
    assert caught.value.problems == ["x-request: unknown section (expected one of crawl, sources, checks, sinks)",
                                     "x-deep: unknown section (expected one of crawl, sources, checks, sinks)"]
    path.write_text("crawl: {request: &request {headers: {Accept: text/plain}}}\n"
                    "sources: [{type: list, targets: [a.example], request: *request}]\n")
    assert load_config(path).settings.request.headers == (("Accept", "text/plain"),)


def with_crawl(crawl: dict) -> dict:
    return {"crawl": crawl, "sources": [{"type": "list", "targets": ["a.example"]}]}


# Each value from the issue, and one beyond the maximum for every other number: (crawl section, problem).
OUT_OF_RANGE = [
    ({"concurrency": 1e11}, "crawl.concurrency: must be a whole number"),
    ({"concurrency": 10**11}, "crawl.concurrency: must be at most 100000"),
    ({"per_host_concurrency": 2**64}, "crawl.per_host_concurrency: must be at most 100000"),
    ({"workers": 180521}, "crawl.workers: must be at most 1024"),
    ({"per_host_delay": 1e308}, "crawl.per_host_delay: must be at most 3600"),
    ({"timeout": 1e308}, "crawl.timeout: must be at most 3600"),
    ({"max_body_bytes": 2**63}, "crawl.max_body_bytes: must be at most 1073741824"),
    ({"max_redirects": 101}, "crawl.max_redirects: must be at most 100"),
    ({"batch_size": 100_001}, "crawl.batch_size: must be at most 100000"),
    ({"retries": {"attempts": 101}}, "crawl.retries.attempts: must be at most 100"),
    ({"retries": {"backoff": 3601}}, "crawl.retries.backoff: must be at most 3600"),
    ({"distributed": {"chunk_size": 100_001}}, "crawl.distributed.chunk_size: must be at most 100000"),
    ({"distributed": {"chunk_deadline": 86_401}}, "crawl.distributed.chunk_deadline: must be at most 86400"),
    ({"distributed": {"max_enqueued_chunks": 100_001}}, "crawl.distributed.max_enqueued_chunks: must be at most 100000"),
    ({"distributed": {"max_attempts": 101}}, "crawl.distributed.max_attempts: must be at most 100"),
]


@pytest.mark.parametrize("crawl, problem", OUT_OF_RANGE, ids=[p.split(":")[0] for _, p in OUT_OF_RANGE])
def test_numbers_beyond_their_range_are_config_errors(crawl, problem, registry):
    assert problems_of(with_crawl(crawl), registry) == [problem]


COMPONENT_OUT_OF_RANGE = [
    ("checks", {"type": "tls_expiry", "min_days": 10**9}, "checks[0].min_days: must be at most 3650"),
    ("checks", {"type": "tls", "min_days": 3651}, "checks[0].min_days: must be at most 3650"),
    ("checks", {"type": "body_match", "pattern": "x", "scan_bytes": 2**64}, "checks[0].scan_bytes: must be at most 1073741824"),
    ("checks", {"type": "response_time", "max_ms": 1e308}, "checks[0].max_ms: must be at most 3600000"),
    ("checks", {"type": "json", "path": "/a", "lt": 1e300}, "checks[0].lt: must be at most 9007199254740992"),
    ("checks", {"type": "redirect", "status": [301.5]}, "checks[0].status[0]: not a valid integer"),
    ("sinks", {"type": "sqlalchemy", "url": "sqlite://", "retry_for": 1e308}, "sinks[0].retry_for: must be at most 86400"),
    ("sinks", {"type": "sqlalchemy", "url": "sqlite://", "spool_max_mb": 2**64}, "sinks[0].spool_max_mb: must be at most 1048576"),
    ("sinks", {"type": "prometheus", "textfile": "m.prom", "push_timeout": 1e308}, "sinks[0].push_timeout: must be at most 3600"),
]


@pytest.mark.parametrize("section, entry, problem", COMPONENT_OUT_OF_RANGE, ids=[p for *_, p in COMPONENT_OUT_OF_RANGE])
def test_numbers_of_built_in_components_have_ranges(section, entry, problem, registry):
    data = {"sources": [{"type": "list", "targets": ["a.example"]}], "checks": [], section: [entry]}
    assert problems_of(data, registry) == [problem]


def test_sql_source_rows_have_a_range(registry):
    data = {"sources": [{"type": "sql", "url": "sqlite://", "query": "select 1", "fetch_rows": 2**64}]}
    assert problems_of(data, registry) == ["sources[0].fetch_rows: must be at most 100000"]


@pytest.mark.parametrize("value", [1.5, 2.0, True, "1.5", "16 targets", [16]], ids=repr)
def test_integers_are_strict(value, registry):
    assert problems_of(with_crawl({"concurrency": value}), registry) == ["crawl.concurrency: must be a whole number"]


def test_an_integer_from_the_environment_is_read(registry, monkeypatch):
    monkeypatch.setenv("HC_CONCURRENCY", "16")
    config = build_config(with_crawl({"concurrency": "${HC_CONCURRENCY}", "per_host_delay": "${HC_DELAY:-0.5}"}), registry)
    assert config.settings.concurrency == 16 and config.settings.per_host_delay == 0.5


@pytest.mark.parametrize("value", [float("nan"), float("inf"), True], ids=repr)
def test_numbers_are_finite_and_not_booleans(value, registry):
    problems = problems_of(with_crawl({"timeout": value}), registry)
    assert len(problems) == 1 and problems[0].startswith("crawl.timeout: ")


def _numeric_fields(schema: Schema, place: str):
    """``(place, field)`` of every number in ``schema``, nested sections and list items included."""
    for name, field in schema.fields.items():
        key = f"{place}.{field.data_key or name}"
        if isinstance(field, fields.Nested) and isinstance(field.schema, Schema):
            yield from _numeric_fields(field.schema, key)
        elif isinstance(field, fields.List):
            if isinstance(field.inner, fields.Number):
                yield f"{key}[]", field.inner
        elif isinstance(field, fields.Number):
            yield key, field


def test_every_number_of_the_crawl_section_and_built_in_types_has_a_range(registry):
    """The class of bug, not only the listed settings: a number added without a maximum fails here."""
    schemas = [("crawl", CrawlSettingsSchema())] + [
        (f"{t.kind} {t.name}", t.cls.Options()) for t in registry.all() if t.plugin.startswith("healthcrawl")
    ]
    numbers = [(place, field) for name, schema in schemas for place, field in _numeric_fields(schema, name)]
    assert len(numbers) >= 25  # the walk found them: the crawl section's, retries', distributed's, the types'
    unbounded = [
        place for place, field in numbers
        if not any(isinstance(v, validate.OneOf) or isinstance(v, validate.Range) and v.min is not None and v.max is not None
                   for v in field.validators)
    ]
    assert unbounded == []
    loose = [place for place, field in numbers
             if isinstance(field, fields.Integer) and not (field.strict or isinstance(field, WholeNumber))]
    assert loose == []


def test_the_reference_shows_each_range():
    page = (Path(__file__).parents[2] / "docs" / "configuration-reference.md").read_text(encoding="utf-8")
    assert "| `concurrency` | integer | `256` | Greenlets in the pool: targets fetched at once. At least 1. At most 100000. |" in page
    assert "| `workers` | integer | the number of CPUs |" in page and "At least 1. At most 1024. |" in page


def test_a_file_that_is_not_a_ca_bundle_is_a_config_error(registry):
    assert problems_of(with_crawl({"verify": "/etc/passwd"}), registry) == [
        "crawl.verify: /etc/passwd is not a CA bundle (PEM certificates): NO_CERTIFICATE_OR_CRL_FOUND"
    ]


def test_a_real_ca_bundle_and_a_folder_of_certificates_are_accepted(registry, tmp_path):
    import trustme

    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    assert build_config(with_crawl({"verify": str(bundle)}), registry).settings.verify == str(bundle)
    assert build_config(with_crawl({"verify": str(tmp_path)}), registry).settings.verify == str(tmp_path)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("probe\r\nX-Injected: 1", "contains a line break (CR or LF)"),
        ("probe\n", "contains a line break (CR or LF)"),
        ("probe\x00", "contains the control character '\\x00'"),
        ("probe\x1b[31m", "contains the control character '\\x1b'"),
        ("probe\x7f", "contains the control character '\\x7f'"),
        (" probe", "starts with whitespace"),
        ("probe €", "contains '€', which is not Latin-1 (a header is Latin-1 text)"),
    ],
    ids=repr,
)
def test_header_text_that_cannot_be_sent_is_a_config_error(text, problem, registry):
    assert problems_of(with_crawl({"user_agent": text}), registry) == [f"crawl.user_agent: {problem}"]
    assert problems_of(with_crawl({"request": {"headers": {"X-Probe": text}}}), registry) == [
        f"crawl.request.headers: header X-Probe: the value {problem}"
    ]


def test_header_text_that_can_be_sent_is_accepted(registry):
    settings = build_config(with_crawl({"user_agent": "probe/1.0 (tab\there; café)"}), registry).settings
    assert settings.user_agent == "probe/1.0 (tab\there; café)"


def test_cli_names_the_bad_header_with_exit_2(tmp_path, healthcrawl_cli):
    path = tmp_path / "crawl.yaml"
    path.write_text(SOURCES + 'crawl: {user_agent: "a\\r\\nX-Injected: 1", verify: /etc/passwd}\n')
    for command in ("validate", "run"):
        result = healthcrawl_cli(command, path)
        assert result.exit_code == 2 and "Traceback" not in result.stderr
        assert "crawl.user_agent: contains a line break (CR or LF)" in result.stderr
        assert "crawl.verify: /etc/passwd is not a CA bundle" in result.stderr
