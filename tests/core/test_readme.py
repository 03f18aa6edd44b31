"""The README's quickstart stays true: CI runs its test command word for word."""

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def quickstart_commands():
    readme = (REPO / "README.md").read_text()
    section = readme.split("## Quickstart", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section)


def test_quickstart_is_two_commands():
    install_and_run, install_and_test = quickstart_commands()
    assert "pip install ." in install_and_run and "healthcrawl examples run offline-demo" in install_and_run
    assert "pip install -e '.[test]'" in install_and_test and "pytest" in install_and_test


def test_ci_runs_the_readme_test_command():
    test_command = quickstart_commands()[1]
    ci_lines = (REPO / ".ci" / "run").read_text().splitlines()
    assert test_command in ci_lines


def test_the_configuration_in_brief_is_a_valid_config(tmp_path, healthcrawl_cli):
    readme = (REPO / "README.md").read_text()
    block = readme.split("## Configuration in brief", 1)[1].split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "crawl.yaml").write_text(block)
    (tmp_path / "domains.txt").write_text("example.com\n")
    result = healthcrawl_cli("validate", str(tmp_path / "crawl.yaml"))
    assert result.exit_code == 0, result.stderr
