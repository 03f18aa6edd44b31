"""Docs, examples and the example plugin package import healthcrawl only through its public surface.

That is ``from healthcrawl import NAME`` for a name in ``healthcrawl.__all__``, plus the testing kit
(``healthcrawl.testing`` and its modules) for tests and demo servers. Checked: every Python code block in
docs/*.md and in the examples' Markdown files, and every .py file under examples/.
"""

import ast
import re
from pathlib import Path

import pytest

import healthcrawl

REPO = Path(__file__).resolve().parents[2]
PYTHON_BLOCK = re.compile(r"```python\n(.*?)```", re.S)
HOOK_SIGNATURE = re.compile(r"^healthcrawl_\w+\(.*\) -> \w+$")
TESTING_KIT = "healthcrawl.testing"

WAITING_FOR_PUBLIC_NAMES: dict[str, str] = {}
"""Pages that cannot follow the rule until the public API has the names they need (strict xfail)."""


def python_sources():
    """(place, source) for every Python code block of the docs and examples, and every example .py file."""
    pages = sorted((REPO / "docs").glob("*.md")) + sorted((REPO / "examples").rglob("*.md"))
    for page in pages:
        for index, block in enumerate(PYTHON_BLOCK.findall(page.read_text())):
            if not HOOK_SIGNATURE.match(block.strip()):
                yield f"{page.relative_to(REPO)} python block {index}", block
    for path in sorted((REPO / "examples").rglob("*.py")):
        yield str(path.relative_to(REPO)), path.read_text()


def non_public_imports(source, place):
    """Each import of healthcrawl in ``source`` that goes around its public surface."""
    problems = []
    for node in ast.walk(ast.parse(source, place)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module is not None:
            modules = [node.module]
            if node.module == "healthcrawl":
                problems += [f"line {node.lineno}: from healthcrawl import {alias.name} (not in healthcrawl.__all__)"
                             for alias in node.names if alias.name not in healthcrawl.__all__]
        else:
            continue
        problems += [f"line {node.lineno}: imports {module}" for module in modules
                     if module.startswith("healthcrawl.") and not _in_testing_kit(module)]
    return problems


def _in_testing_kit(module):
    return module == TESTING_KIT or module.startswith(TESTING_KIT + ".")


def file_of(place):
    return place.split(" python block")[0]


def cases():
    return [
        pytest.param(place, source, id=place, marks=[pytest.mark.xfail(strict=True, reason=reason)] if reason else [])
        for place, source in python_sources()
        for reason in [WAITING_FOR_PUBLIC_NAMES.get(file_of(place))]
    ]


@pytest.mark.parametrize("place, source", cases())
def test_imports_only_the_public_api_and_the_testing_kit(place, source):
    assert non_public_imports(source, place) == []


def test_the_check_finds_what_it_must_refuse():
    source = (
        "import healthcrawl\n"
        "import healthcrawl.records\n"
        "from healthcrawl import Check, hookimpl, plugin_system\n"
        "from healthcrawl.plugin_system.components import Sink\n"
        "from healthcrawl.testing.servers import HTTPTestServer\n"
        "from healthcrawl.testingfoo import x\n"
        "from . import check\n"
    )
    assert non_public_imports(source, "example.py") == [
        "line 2: imports healthcrawl.records",
        "line 3: from healthcrawl import plugin_system (not in healthcrawl.__all__)",
        "line 4: imports healthcrawl.plugin_system.components",
        "line 6: imports healthcrawl.testingfoo",
    ]


def test_every_example_and_doc_page_with_python_is_checked():
    places = {file_of(place) for place, _ in python_sources()}
    assert set(WAITING_FOR_PUBLIC_NAMES) <= places
    assert {"docs/writing-plugins.md", "docs/plugin-hooks.md", "docs/embedding.md",
            "examples/plugins/healthcrawl-security-headers/src/healthcrawl_security_headers/check.py",
            "examples/plugins/healthcrawl-security-headers/tests/test_webhook.py",
            "examples/offline-demo/demo_servers.py"} <= places


def test_writing_plugins_lists_every_public_name():
    page = (REPO / "docs" / "writing-plugins.md").read_text()
    paragraph = page.split("\nThe public names are ", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"`(\w+)`", paragraph.split(". The modules inside")[0]))
    assert listed == set(healthcrawl.__all__) - {"__version__"}
