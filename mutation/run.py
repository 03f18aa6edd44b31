"""Mutation testing of healthcrawl's core logic: which small edits to the code do the tests miss?

Runs cosmic-ray (``pip install -e '.[mutation]'``) over one or more source files. Each mutant
(one small edit: ``<`` for ``<=``, ``and`` for ``or``, a number plus one, ...) is written into
the file in place, which the editable install imports as ``healthcrawl``, and the fast tests that
cover the file (mutation/modules.toml) run against it with ``pytest -x``. A mutant the tests fail
on is killed; one they pass on survived. Survivors listed in mutation/equivalent.txt (behaviour
cannot differ) are left out of the score.

    .venv/bin/python mutation/run.py                              # every module in modules.toml
    .venv/bin/python mutation/run.py plugins/checks/status.py     # one module (or a folder of them)
    .venv/bin/python mutation/run.py some/module.py --tests tests/test_it.py
    .venv/bin/python mutation/run.py --report                     # the last results again, no run

Sessions and each module's survivors (with diffs) go to .mutation/. Not part of CI: it takes
minutes per module (docs/contributing.md has the measured times).
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES_FILE = ROOT / "mutation" / "modules.toml"
EQUIVALENT_FILE = ROOT / "mutation" / "equivalent.txt"
ARTEFACTS = ROOT / ".mutation"


@dataclass(frozen=True)
class Equivalent:
    """One line of equivalent.txt: a surviving mutant that behaves exactly like the original."""

    module: str
    line: int
    operator: str
    reason: str
    source_line: int  # where in equivalent.txt, for messages


@dataclass
class Survivor:
    line: int
    operator: str
    removed: str
    added: str
    diff: str


@dataclass
class ModuleResult:
    """What one module's session holds: counts, survivors, and the equivalent entries that matched nothing."""

    module: str
    tried: int = 0
    killed: int = 0
    timeouts: int = 0
    errors: int = 0  # cosmic-ray could not apply the mutant; not counted as tried
    pending: int = 0
    survivors: list[Survivor] = field(default_factory=list)
    equivalent: list[Survivor] = field(default_factory=list)
    stale_equivalents: list[Equivalent] = field(default_factory=list)
    seconds: float | None = None

    @property
    def score(self) -> float:
        """Killed share of the mutants that could be killed (tried minus equivalent), in percent."""
        killable = self.tried - len(self.equivalent)
        return 100.0 * self.killed / killable if killable else 100.0


def relative(path: str) -> str:
    """``path`` as a repository-relative POSIX path (what modules.toml and equivalent.txt use)."""
    return Path(path).resolve().relative_to(ROOT).as_posix()


def load_table() -> dict[str, list[str]]:
    with MODULES_FILE.open("rb") as handle:
        return tomllib.load(handle)


def load_equivalents() -> list[Equivalent]:
    entries = []
    for number, text in enumerate(EQUIVALENT_FILE.read_text(encoding="utf-8").splitlines(), start=1):
        text = text.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split(None, 2)
        location = parts[0].rsplit(":", 1)
        if len(parts) < 3 or len(location) != 2 or not location[1].isdigit():
            sys.exit(f"{EQUIVALENT_FILE.relative_to(ROOT)}:{number}: expected '<module>:<line> <operator> <reason>'")
        entries.append(Equivalent(location[0], int(location[1]), parts[1], parts[2], number))
    return entries


def session_path(module: str, suffix: str) -> Path:
    return ARTEFACTS / (module.replace("/", "__") + suffix)


def test_command(tests: list[str]) -> str:
    """pytest on ``tests``, stopping at the first failure, under a memory cap (mutation/capped_pytest.py)."""
    return shlex.join([sys.executable, "mutation/capped_pytest.py", "-x", "-q", "-p", "no:cacheprovider", *tests])


def restore_if_interrupted(module: str) -> None:
    """Put back a module that a killed run left mutated (the run keeps a copy while it mutates)."""
    backup = session_path(module, ".original.py")
    if not backup.exists():
        return
    original = backup.read_text(encoding="utf-8")
    if (ROOT / module).read_text(encoding="utf-8") != original:
        (ROOT / module).write_text(original, encoding="utf-8")
        print(f"restored {module}: an earlier run was stopped while it held a mutant", file=sys.stderr)
    backup.unlink()


def run_baseline(command: str) -> float:
    """Run the tests once unmutated; exit if they fail (every mutant would look killed). Returns seconds."""
    started = time.monotonic()
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    completed = subprocess.run(shlex.split(command), env=env, capture_output=True, text=True)
    if completed.returncode != 0:
        print(completed.stdout[-3000:], completed.stderr[-2000:], sep="\n", file=sys.stderr)
        sys.exit(f"the tests fail without any mutant, fix them first: {command}")
    return time.monotonic() - started


def run_module(module: str, tests: list[str], resume: bool) -> float:
    """Mutate ``module`` one mutant at a time and run ``tests`` against each; returns the seconds taken."""
    from cosmic_ray.commands import init
    from cosmic_ray.mutating import mutate_and_test
    from cosmic_ray.work_db import use_db

    restore_if_interrupted(module)
    command = test_command(tests)
    started = time.monotonic()
    baseline = run_baseline(command)
    timeout = 10 * baseline + 10  # a mutant that makes the tests hang counts as killed
    ARTEFACTS.mkdir(exist_ok=True)
    with use_db(str(session_path(module, ".sqlite"))) as db:
        if not (resume and db.num_work_items):
            init([Path(module)], db, {})
        pending = sorted(db.pending_work_items, key=lambda item: item.mutations[0].start_pos)
        print(f"{module}: {len(pending)} mutants to run, tests take {baseline:.1f} s: {command}", flush=True)
        source = ROOT / module
        backup = session_path(module, ".original.py")
        backup.write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
        try:
            for number, item in enumerate(pending, start=1):
                db.set_result(item.job_id, mutate_and_test(item.mutations, command, timeout))
                if number % 10 == 0 or number == len(pending):
                    print(f"  {number}/{len(pending)} ({time.monotonic() - started:.0f} s)", flush=True)
        finally:
            restore_if_interrupted(module)
    seconds = time.monotonic() - started
    session_path(module, ".seconds").write_text(f"{seconds:.0f}\n")
    return seconds


def changed_lines(diff: str) -> tuple[str, str]:
    removed = [line[1:].strip() for line in diff.splitlines() if line.startswith("-") and not line.startswith("---")]
    added = [line[1:].strip() for line in diff.splitlines() if line.startswith("+") and not line.startswith("+++")]
    return " / ".join(removed), " / ".join(added)


def summarize(module: str, equivalents: list[Equivalent]) -> ModuleResult | None:
    """Read ``module``'s last session; None if it was never run."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome

    path = session_path(module, ".sqlite")
    if not path.exists():
        return None
    result = ModuleResult(module)
    seconds = session_path(module, ".seconds")
    if seconds.exists():
        result.seconds = float(seconds.read_text())
    listed = [entry for entry in equivalents if entry.module == module]
    matched: set[Equivalent] = set()
    with use_db(str(path), WorkDB.Mode.open) as db:
        result.pending = db.num_work_items - db.num_results
        for item, outcome in db.completed_work_items:
            if outcome.worker_outcome in (WorkerOutcome.NO_TEST, WorkerOutcome.SKIPPED):
                continue
            if outcome.worker_outcome != WorkerOutcome.NORMAL:
                result.errors += 1
                continue
            result.tried += 1
            mutation = item.mutations[0]
            if outcome.is_killed:
                result.killed += 1
                result.timeouts += outcome.output == "timeout"
                continue
            survivor = Survivor(mutation.start_pos[0], mutation.operator_name, *changed_lines(outcome.diff or ""),
                                outcome.diff or "")
            entry = next((e for e in listed if (e.line, e.operator) == (survivor.line, survivor.operator)), None)
            if entry is None:
                result.survivors.append(survivor)
            else:
                matched.add(entry)
                result.equivalent.append(survivor)
    result.survivors.sort(key=lambda survivor: survivor.line)
    result.stale_equivalents = [entry for entry in listed if entry not in matched]
    with session_path(module, ".survivors.txt").open("w", encoding="utf-8") as handle:
        for survivor in result.survivors:
            handle.write(f"{module}:{survivor.line} {survivor.operator}\n{survivor.diff}\n\n")
    return result


def print_report(results: list[ModuleResult]) -> None:
    width = max(len(result.module) for result in results)
    print(f"\n{'module':<{width}}  tried  killed  survived  equivalent  score    time")
    for result in results:
        took = f"{result.seconds / 60:.1f} min" if result.seconds is not None else ""
        print(f"{result.module:<{width}}  {result.tried:>5}  {result.killed:>6}  {len(result.survivors):>8}"
              f"  {len(result.equivalent):>10}  {result.score:5.1f}%  {took}")
    for result in results:
        notes = []
        if result.pending:
            notes.append(f"{result.pending} mutants not run yet (--resume runs them)")
        if result.errors:
            notes.append(f"{result.errors} mutants cosmic-ray could not apply (not counted)")
        if result.timeouts:
            notes.append(f"{result.timeouts} killed by the timeout (tests hung)")
        if not (result.survivors or result.stale_equivalents or notes):
            continue
        print(f"\n{result.module}: " + "; ".join(notes) if notes else f"\n{result.module}:")
        for survivor in result.survivors:
            print(f"  survived {result.module}:{survivor.line} {survivor.operator}: "
                  f"{survivor.removed}  ->  {survivor.added}")
        for entry in result.stale_equivalents:
            print(f"  equivalent.txt line {entry.source_line} matches no survivor (delete it): "
                  f"{entry.module}:{entry.line} {entry.operator}")
        if result.survivors:
            print(f"  diffs: {session_path(result.module, '.survivors.txt').relative_to(ROOT)}")


def select_modules(arguments: list[str], table: dict[str, list[str]], tests: list[str] | None) -> dict[str, list[str]]:
    """Map each module to run to its tests: the table's, or ``--tests``; a folder stands for the table's modules in it."""
    if not arguments:
        return dict(table) if tests is None else {module: tests for module in table}
    selected = {}
    for argument in arguments:
        if not (ROOT / argument).exists() and not Path(argument).exists():
            sys.exit(f"no such module: {argument}")
        module = relative(argument)
        if Path(argument).is_dir():
            inside = [name for name in table if name.startswith(module + "/")]
            if not inside:
                sys.exit(f"{module}/ holds no module listed in {MODULES_FILE.relative_to(ROOT)}")
            selected.update({name: tests or table[name] for name in inside})
        elif tests is not None:
            selected[module] = tests
        elif module in table:
            selected[module] = table[module]
        else:
            sys.exit(f"{module} is not in {MODULES_FILE.relative_to(ROOT)}: add it there or pass --tests")
    return selected


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="*", help="source files (or folders) to mutate; default: all in modules.toml")
    parser.add_argument("--tests", nargs="+", help="test files to run instead of the ones modules.toml lists")
    parser.add_argument("--report", action="store_true", help="print the last results again without running")
    parser.add_argument("--resume", action="store_true", help="run only the mutants an interrupted run left")
    parser.add_argument("--fail-under", type=float, metavar="PERCENT", help="exit 1 if a module scores below it")
    parser.add_argument("--list", action="store_true", help="print the modules and their tests, and stop")
    args = parser.parse_args(argv)
    os.chdir(ROOT)

    table = load_table()
    if args.list:
        for module, tests in table.items():
            print(f"{module}: {' '.join(tests)}")
        return 0
    selected = select_modules(args.modules, table, args.tests)
    equivalents = load_equivalents()
    if not args.report:
        for module, tests in selected.items():
            run_module(module, tests, args.resume)
    results = [result for module in selected if (result := summarize(module, equivalents)) is not None]
    if not results:
        print("no results yet: run without --report first", file=sys.stderr)
        return 1
    print_report(results)
    if args.fail_under is not None and any(result.score < args.fail_under for result in results):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
