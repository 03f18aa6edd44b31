"""Hypothesis profiles for the fuzz tests: ``ci`` (the default: few examples, derandomized, so every run
tries the same inputs) and ``long`` (many random examples), chosen with ``HYPOTHESIS_PROFILE``:

    HYPOTHESIS_PROFILE=long .venv/bin/python -m pytest -q tests/fuzz

A failing example is printed with the ``@reproduce_failure`` blob that replays it.
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci", max_examples=60, derandomize=True, database=None, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=5000, database=None, deadline=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
