"""``python -m pytest`` with a cap on memory, for the tests that run against a mutant.

Some mutants allocate without end (a bitmap that doubles on every add); under the cap they fail with
MemoryError in a moment instead of filling a machine that others share. Usage:
``python mutation/capped_pytest.py PYTEST_ARGS...``.
"""

import os
import resource
import runpy
import sys

ADDRESS_SPACE_LIMIT = 4 * 2**30  # bytes; the fast tests need well under 1 GiB

resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
sys.path[0] = os.getcwd()  # what ``python -m pytest`` puts first, instead of this file's folder
sys.argv[0] = "pytest"
runpy.run_module("pytest", run_name="__main__", alter_sys=True)
