"""Hostile configs end in one config error line naming the problem: never a traceback, a hang or gigabytes.

YAML is bounded (size, nesting, aliases expanded).
"""

import resource
import subprocess
import sys

import pytest

from healthcrawl import ConfigError, load_config
from healthcrawl.configuration.yaml_reading import MAX_CONFIG_BYTES, MAX_DEPTH, MAX_VALUES

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
