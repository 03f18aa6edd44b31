"""The tests run against one mutant: ``pytest -x`` in stages, under a cap on memory.

``python mutation/capped_pytest.py FIRST [MORE...]`` runs the tests in FIRST, and only if they all pass
the tests in MORE (FIRST left out): a mutant that the fast first file kills costs one short pytest run
instead of collecting every file. Exits with pytest's code (0: the mutant survived).

Some mutants allocate without end (a bitmap that doubles on every add); under the cap they fail with
MemoryError in a moment instead of filling a machine that others share.
"""

import resource
import subprocess
import sys

ADDRESS_SPACE_LIMIT = 4 * 2**30  # bytes, for each pytest process; the fast tests need well under 1 GiB
PYTEST = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
NO_TESTS_COLLECTED = 5


def main(paths: list[str]) -> int:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))  # the pytest runs inherit it
    first, more = paths[0], paths[1:]
    code = subprocess.call([*PYTEST, first])
    if code != 0 or not more:
        return code
    code = subprocess.call([*PYTEST, *more, f"--ignore={first}"])
    return 0 if code == NO_TESTS_COLLECTED else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
