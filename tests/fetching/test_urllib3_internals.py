"""The private urllib3 names the transport relies on exist, are pinned, and are used in one module only."""

import re
import tomllib
from pathlib import Path

import pytest
import urllib3

from healthcrawl.fetching.urllib3_internals import PRIVATE_NAMES, URLLIB3_PIN, PrivateName

ROOT = Path(__file__).resolve().parents[2]
INTERNALS = ROOT / "framework" / "fetching" / "urllib3_internals.py"


@pytest.mark.parametrize("private", PRIVATE_NAMES, ids=lambda private: private.name)
def test_every_private_name_still_exists(private):
    assert private.exists(), (
        f"urllib3 {urllib3.__version__} has no {private.owner}.{private.name} (used by {private.use}); "
        f"revisit the pin {URLLIB3_PIN!r} in pyproject.toml and healthcrawl/fetching/urllib3_internals.py"
    )


def test_a_missing_name_is_reported_missing():
    assert not PrivateName("urllib3.connection.HTTPConnection", "_no_such_name", "nothing").exists()
    assert not PrivateName("urllib3.no_such_module", "_name", "nothing").exists()


def test_pyproject_pins_urllib3_as_the_internals_module_says():
    dependencies = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert URLLIB3_PIN in dependencies, f"pyproject.toml should require {URLLIB3_PIN!r}: {dependencies}"


def test_no_other_module_uses_the_private_names():
    pattern = re.compile("|".join(rf"\b{re.escape(private.name)}\b" for private in PRIVATE_NAMES))
    sources = [*(ROOT / "framework").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]
    users = [
        f"{path.relative_to(ROOT)}: {match.group()}"
        for path in sources
        if path != INTERNALS
        for match in [pattern.search(path.read_text())]
        if match
    ]
    assert users == [], "use urllib3's private names through healthcrawl.fetching.urllib3_internals"
