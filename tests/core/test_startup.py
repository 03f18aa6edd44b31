"""Start-up stays light: commands that use no database never import SQLAlchemy or Alembic."""

import subprocess
import sys
import textwrap


def modules_loaded_by(argv):
    """Run ``healthcrawl ARGV`` in a fresh interpreter and return the heavy modules it imported."""
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
