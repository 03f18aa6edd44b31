"""Meta-tests in the style of datasette's: every hook is documented, exactly, and tested.

docs/plugin-hooks.md has one ``## hook_name`` section per hook in ``healthcrawl.plugin_system.hookspecs``. Its first
code block is the hook's signature, exactly as the spec declares it; its last code block is an example
plugin that implements the hook. A test exercising a hook is marked ``@pytest.mark.hook("hook_name")``.
"""

import inspect
import re
import types
from pathlib import Path

import pytest

from healthcrawl.plugin_system import hookspecs
from healthcrawl.plugin_system.manager import PluginManager

REPO = Path(__file__).resolve().parents[2]
PAGE = REPO / "docs" / "plugin-hooks.md"
CODE_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
WORKER_HOOKS = {"healthcrawl_prepare_request"}
"""Hooks called where targets are fetched; every other hook runs in the parent process."""
HOOK_MARK = re.compile(r"""^\s*@pytest\.mark\.hook\(\s*["'](\w+)["']\s*\)""", re.M)


def hook_specs():
    return {name: function for name, function in vars(hookspecs).items() if hasattr(function, "healthcrawl_spec")}


def documented_sections():
    sections = PAGE.read_text().split("\n## ")[1:]
    return {section.split("\n", 1)[0].strip(): section for section in sections}


def spec_signature(spec):
    """The signature as the docs must show it: the spec's own annotations, without string quotes."""
    signature = inspect.signature(spec)
    parameters = ", ".join(f"{p.name}: {p.annotation}" for p in signature.parameters.values())
    return re.sub(r"[\"']", "", f"{spec.__name__}({parameters}) -> {signature.return_annotation}")


def test_every_hook_has_a_section_and_every_section_a_hook():
    assert sorted(documented_sections()) == sorted(hook_specs())


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_documented_signature_is_the_spec(name):
    section = documented_sections().get(name)
    assert section is not None, f"docs/plugin-hooks.md has no '## {name}' section"
    documented = CODE_BLOCK.findall(section)[0].strip()
    assert documented == spec_signature(hook_specs()[name])


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_documented_calling_rule_matches_firstresult(name):
    section = " ".join(documented_sections()[name].split())
    if hook_specs()[name].healthcrawl_spec["firstresult"]:
        assert "first non-`None` result" in section
    else:
        assert "Every implementation is called" in section


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_documented_calling_rule_says_where_the_hook_runs(name):
    called = re.search(r"^- Called: (.*?)(?=^- |^```)", documented_sections()[name], re.S | re.M)
    assert called is not None, f"the {name} section has no '- Called:' line"
    where = "in a worker process" if name in WORKER_HOOKS else "in the parent process"
    assert " ".join(called.group(1).split()).startswith(where)


@pytest.mark.parametrize("name", sorted(hook_specs()))
def test_documented_example_implements_the_hook(name):
    example = CODE_BLOCK.findall(documented_sections()[name])[-1]
    module = types.ModuleType(f"example_{name}")
    exec(compile(example, f"docs/plugin-hooks.md#{name}", "exec"), module.__dict__)
    manager = PluginManager()
    manager.register(module)  # pluggy rejects an implementation whose arguments the spec does not have
    assert name in [caller.name for caller in manager.get_hookcallers(module)]


def test_every_hook_has_a_test():
    tested = set()
    for path in (REPO / "tests").rglob("test_*.py"):
        tested.update(HOOK_MARK.findall(path.read_text()))
    untested = set(hook_specs()) - tested
    assert not untested, f"no test is marked @pytest.mark.hook(...) for {sorted(untested)}"
    assert tested <= set(hook_specs()), f"tests are marked for hooks that do not exist: {sorted(tested - set(hook_specs()))}"
