"""The generated reference pages match the code: a new config key, type or command needs a regeneration."""

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_generated_reference_pages_are_fresh():
    proc = subprocess.run(
        [sys.executable, str(REPO / "docs" / "generate_reference.py"), "--check"], capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
