"""Start-up stays light: commands that use no database never import SQLAlchemy or Alembic, and
``--help`` and ``--version`` import none of the libraries a crawl needs (they list the plugins'
commands from the index ``healthcrawl.cli.light_start`` keeps)."""

import json
import os
import subprocess
import sys
import textwrap

HEAVY = ("gevent", "requests", "urllib3", "ssl", "sqlalchemy", "alembic", "marshmallow", "yaml", "celery", "pluggy_")
"""Top-level packages ``--help`` and ``--version`` must not import (``pluggy_`` is a control: never a module)."""


def run_healthcrawl(argv, cache=None, env=None):
    """Run ``healthcrawl ARGV`` in a fresh interpreter (with ``XDG_CACHE_HOME=cache``); returns
    ``(exit code, stdout, the heavy modules it imported)``."""
    script = textwrap.dedent(f"""
        import sys
        from healthcrawl.entrypoint import main
        try:
            code = main({argv!r})
        except SystemExit as exit:
            code = exit.code or 0
        sys.stdout.flush()
        heavy = sorted({{name.split(".")[0] for name in sys.modules}} & set({HEAVY!r}))
        print(code, heavy, file=sys.stderr)
    """)
    environment = {**os.environ, **(env or {})}
    if cache is not None:
        environment["XDG_CACHE_HOME"] = str(cache)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=environment)
    code, heavy = done.stderr.strip().splitlines()[-1].split(" ", 1)
    return int(code), done.stdout, heavy


def modules_loaded_by(argv):
    """The storage modules ``healthcrawl ARGV`` imported."""
    script = textwrap.dedent(f"""
        import sys
        from healthcrawl.entrypoint import main
        try:
            main({argv!r})
        except SystemExit:
            pass
        print(sorted(name for name in ("sqlalchemy", "alembic") if name in sys.modules), file=sys.stderr)
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    return done.stderr.strip().splitlines()[-1]


def commands_listed(help_text):
    """The command names a ``--help`` lists."""
    listing = help_text.split("{", 1)[0] if "{" in help_text else help_text
    return {line.split()[0] for line in listing.splitlines() if line.startswith("    ") and line.split()}


def test_plugins_check_and_validate_do_not_import_the_storage_stack(tmp_path):
    config = tmp_path / "crawl.yaml"
    config.write_text("sources: [{type: list, targets: ['http://127.0.0.1:1/']}]\n")
    assert modules_loaded_by(["plugins"]) == "[]"
    assert modules_loaded_by(["validate", str(config)]) == "[]"
    assert modules_loaded_by(["check", "http://127.0.0.1:1/"]) == "[]"


def test_a_database_sink_still_gets_its_storage(tmp_path):
    config = tmp_path / "crawl.yaml"
    config.write_text(
        "sources: [{type: list, targets: ['http://127.0.0.1:1/']}]\n"
        f"sinks: [{{type: sqlalchemy, url: 'sqlite:///{tmp_path}/r.db'}}]\n"
        "crawl: {workers: 1}\n"
    )
    assert modules_loaded_by(["run", "--quiet", str(config)]) == "['alembic', 'sqlalchemy']"
    assert (tmp_path / "r.db").exists()


def test_version_imports_nothing_heavy(tmp_path):
    code, out, heavy = run_healthcrawl(["--version"], cache=tmp_path)
    assert (code, heavy) == (0, "[]")
    assert out.startswith("healthcrawl ") and out.endswith(" 15 plugins)\n")
    code, out, heavy = run_healthcrawl(["--version"], cache=tmp_path, env={"HEALTHCRAWL_DISABLE_PLUGINS": "healthcrawl.plugins.database"})
    assert (code, heavy) == (0, "[]")
    assert out.endswith(" 14 plugins)\n")


def test_help_lists_the_plugins_commands_without_importing_them_once_they_were_loaded(tmp_path):
    code, first, _ = run_healthcrawl(["--help"], cache=tmp_path)  # nothing remembered yet: loads the plugins
    assert code == 0
    assert {"run", "check", "runs", "show", "worker"} <= commands_listed(first)
    code, again, heavy = run_healthcrawl(["--help"], cache=tmp_path)
    assert (code, heavy) == (0, "[]")
    assert again == first


def test_help_follows_a_change_of_plugins_and_survives_a_broken_index(tmp_path):
    run_healthcrawl(["plugins"], cache=tmp_path)  # any command that loads the plugins remembers their commands
    disabled = {"HEALTHCRAWL_DISABLE_PLUGINS": "healthcrawl.plugins.distributed"}
    code, out, _ = run_healthcrawl(["--help"], cache=tmp_path, env=disabled)
    assert code == 0
    assert "runs" in commands_listed(out) and "worker" not in commands_listed(out)
    (index,) = (tmp_path / "healthcrawl").glob("plugin-commands-*.json")
    assert [name for _, name, _ in json.loads(index.read_text())["commands"]] == ["runs", "show", "diff", "replay", "report"]
    index.write_text("{not json")
    code, out, _ = run_healthcrawl(["--help"], cache=tmp_path)
    assert code == 0 and {"runs", "worker"} <= commands_listed(out)
    code, out, heavy = run_healthcrawl(["--help"], cache=tmp_path)
    assert (code, heavy) == (0, "[]") and {"runs", "worker"} <= commands_listed(out)


def test_an_unwritable_cache_only_costs_the_speed_up(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("a file where the cache folder would be")
    code, out, _ = run_healthcrawl(["--help"], cache=blocked)
    assert code == 0 and {"runs", "worker"} <= commands_listed(out)
    assert run_healthcrawl(["runs", "--help"], cache=blocked)[0] == 0


def test_the_index_is_written_only_when_it_changes(tmp_path):
    run_healthcrawl(["plugins"], cache=tmp_path)
    (index,) = (tmp_path / "healthcrawl").glob("plugin-commands-*.json")
    written = index.stat().st_mtime_ns
    os.utime(index, ns=(written - 10**9, written - 10**9))
    run_healthcrawl(["plugins"], cache=tmp_path)
    assert index.stat().st_mtime_ns == written - 10**9
    assert list((tmp_path / "healthcrawl").iterdir()) == [index]  # no temporary file left behind
