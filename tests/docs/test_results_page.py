"""docs/results.md describes every key of the result record and every error kind, in the code's order."""

import re
from pathlib import Path

from healthcrawl import ERROR_KINDS, RESULT_KEYS

PAGE = (Path(__file__).resolve().parents[2] / "docs" / "results.md").read_text()


def first_column(section_title):
    section = PAGE.split(f"## {section_title}\n", 1)[1].split("\n## ", 1)[0]
    return [name for row in re.findall(r"^\| (`[^|]+`) \|", section, re.M) for name in re.findall(r"`(\w+)`", row)]


def test_every_record_key_is_described():
    assert first_column("The record") == list(RESULT_KEYS)


def test_every_error_kind_is_described():
    assert first_column("Error kinds") == list(ERROR_KINDS)
