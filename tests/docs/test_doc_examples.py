"""The code the docs show works: the example plugin and its test are extracted from the pages and run.

A code block preceded by ``<!-- docs-example: FILE -->`` is saved as FILE.
"""

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[2] / "docs"
EXAMPLE = re.compile(r"<!-- docs-example: (\S+) -->\n```python\n(.*?)```", re.S)


def doc_examples(page):
    return dict(EXAMPLE.findall((DOCS / page).read_text()))


def test_the_example_check_is_one_module_of_under_30_lines():
    (source,) = doc_examples("writing-plugins.md").values()
    assert len(source.strip().splitlines()) < 30
    assert "@hookimpl" in source and "class ResponseTimeOptions(Schema)" in source and "def evaluate" in source


def test_the_example_check_and_its_example_test_pass_in_a_crawl(pytester):
    files = {**doc_examples("writing-plugins.md"), **doc_examples("testing-plugins.md")}
    assert set(files) == {"healthcrawl_response_time.py", "test_response_time.py"}
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
