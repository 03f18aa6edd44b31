"""The code the docs show works: the example plugin and its test, the ``from_config`` example and the
example command are extracted from the pages and run.

A code block preceded by ``<!-- docs-example: FILE -->`` is saved as FILE.
"""

import re
import types
from pathlib import Path

import pytest

from healthcrawl import ConfigError, hookimpl
from healthcrawl.cli.main import main

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE = re.compile(r"<!-- docs-example: (\S+) -->\n```python\n(.*?)```", re.S)


def doc_examples(page):
    return dict(EXAMPLE.findall((DOCS / page).read_text()))


def test_the_example_check_is_one_module_of_under_30_lines():
    source = doc_examples("writing-plugins.md")["healthcrawl_response_time.py"]
    assert len(source.strip().splitlines()) < 30
    assert "@hookimpl" in source and "class ResponseTimeOptions(Schema)" in source and "def evaluate" in source


def test_the_example_check_and_its_example_test_pass_in_a_crawl(pytester):
    files = {**doc_examples("writing-plugins.md"), **doc_examples("testing-plugins.md")}
    files = {name: files[name] for name in ("healthcrawl_response_time.py", "test_response_time.py")}
    for name, source in files.items():
        pytester.path.joinpath(name).write_text(source)
    pytester.makepyprojecttoml("[tool.pytest.ini_options]\nhealthcrawl_gevent = true\n")  # the page's opt-in
    result = pytester.runpytest_subprocess("-q", "test_response_time.py")
    result.assert_outcomes(passed=1)


def test_every_python_block_in_the_docs_compiles():
    signature = re.compile(r"^healthcrawl_\w+\(.*\) -> \w+$")
    for page in sorted(DOCS.glob("*.md")):
        for index, block in enumerate(re.findall(r"```python\n(.*?)```", page.read_text(), re.S)):
            if not signature.match(block.strip()):
                compile(block, f"{page.name} python block {index}", "exec")


def load_example(page, name):
    """The ``docs-example`` block ``name`` of ``page``, run as a module."""
    module = types.ModuleType(name.removesuffix(".py"))
    exec(compile(doc_examples(page)[name], f"docs/{page}#{name}", "exec"), module.__dict__)
    return module


def test_the_from_config_example_is_built_in_code_and_checks_its_file_before_crawling(
    http_server, crawl, register_plugin, tmp_path
):
    example = load_example("writing-plugins.md", "hosts_file_source.py")
    (tmp_path / "hosts.txt").write_text(f"{http_server.url('/')}\n\nnot a target\n")
    built_in_code = example.HostsFileSource(tmp_path / "hosts.txt")
    assert [(t.url, t.invalid) for t in built_in_code.targets()] == [
        (http_server.url("/"), None), ("not a target", "a target cannot contain white space")]

    class Plugin:
        @hookimpl
        def healthcrawl_register_sources(self, register):
            register(example.HostsFileSource)

    register_plugin(Plugin())
    records = crawl({"sources": [{"type": "hosts_file", "path": "hosts.txt"}], "checks": [{"type": "status"}]},
                    base_dir=tmp_path)
    assert sorted((r["seq"], r["target"], r["ok"], r["error_kind"]) for r in records) == [
        (0, http_server.url("/"), True, None), (1, "not a target", False, "invalid_target")]
    with pytest.raises(ConfigError) as missing:
        crawl({"sources": [{"type": "hosts_file", "path": "gone.txt"}]}, base_dir=tmp_path)
    assert missing.value.problems == [f"sources[0]: path: no such file: {tmp_path / 'gone.txt'}"]
    assert http_server.hits["/"] == 1


def test_the_command_example_runs_from_the_command_line(register_plugin, capsys):
    section = (DOCS / "plugin-hooks.md").read_text().split("\n## healthcrawl_register_commands\n")[1].split("\n## ")[0]
    example = types.ModuleType("normalise_command")
    exec(re.findall(r"```python\n(.*?)```", section, re.S)[-1], example.__dict__)
    register_plugin(example)
    assert main(["normalise", "example.com", "https://a.example/x"]) == 0
    assert capsys.readouterr().out == "https://example.com/\nhttps://a.example/x\n"
    assert main(["normalise", "example.com", "not a target"]) == 1
    assert capsys.readouterr() == (
        "https://example.com/\nnot a target: a target cannot contain white space\n",
        "error: 1 of 2 targets are invalid\n",
    )
