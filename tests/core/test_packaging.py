"""A non-editable install carries the whole package (core, built-in plugins, example crawls, pytest plugin) and runs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from healthcrawl.testing.servers import HTTPTestServer

REPO = Path(__file__).resolve().parents[2]


def test_non_editable_install_imports_and_runs(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(".git", "*venv*", "build", "*.egg-info", "__pycache__"))
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(source)],
        check=True,
    )
    migrations = target / "healthcrawl" / "plugins" / "database" / "storage" / "migrations"
    assert (migrations / "env.py").is_file() and (migrations / "versions" / "0001_initial.py").is_file()
    env = {**os.environ, "PYTHONPATH": str(target)}
    probe = subprocess.run(
        [sys.executable, "-c", "import healthcrawl, healthcrawl.plugins.checks.status as s; print(healthcrawl.__file__)"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=True,
    )
    assert probe.stdout.strip().startswith(str(target))
    script = subprocess.run([str(target / "bin" / "healthcrawl"), "plugins"], capture_output=True, text=True, env=env)
    assert script.returncode == 0 and "check:tls_expiry" in script.stdout
    with HTTPTestServer() as server:
        proc = subprocess.run([sys.executable, "-m", "healthcrawl", "check", server.url("/")],
                              capture_output=True, text=True, env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert " ok " in proc.stdout
    assert (target / "healthcrawl" / "examples" / "offline-demo" / "demo_servers.py").is_file()
    assert not (target / "healthcrawl" / "examples" / "plugins").exists(), "the example plugin package is not a crawl"
    demo = subprocess.run([str(target / "bin" / "healthcrawl"), "examples", "run", "offline-demo"],
                          capture_output=True, text=True, env=env, cwd=tmp_path)
    assert demo.returncode == 0, demo.stderr
    assert "targets: 7   ok: 3" in demo.stdout and (tmp_path / "offline-demo.db").is_file()
    (dist_info,) = target.glob("healthcrawl-*.dist-info")
    assert "[pytest11]\nhealthcrawl = healthcrawl.testing.pytest_plugin" in (dist_info / "entry_points.txt").read_text()
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\nhealthcrawl_gevent = true\n")
    (tmp_path / "test_kit.py").write_text(PLUGIN_AUTHOR_TEST.format(site=str(target)))
    kit = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_kit.py"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert kit.returncode == 0, kit.stdout + kit.stderr


PLUGIN_AUTHOR_TEST = """
import healthcrawl.testing.pytest_plugin
from healthcrawl.testing import records_by_target


def test_the_installed_pytest_plugin_provides_the_fixtures(http_server, crawl):
    assert healthcrawl.testing.pytest_plugin.__file__.startswith({site!r})
    records = records_by_target(crawl({{"sources": [{{"type": "list", "targets": [http_server.url("/")]}}]}}))
    assert records[http_server.url("/")]["ok"] is True
"""


def test_every_package_in_the_tree_is_listed_in_pyproject():
    """A subpackage missing from [tool.setuptools] packages installs from a checkout but not from a wheel."""
    import tomllib

    root = Path(__file__).resolve().parents[2]
    listed = set(tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = set()
    for folder, prefix in (("framework", "healthcrawl"), ("plugins", "healthcrawl.plugins")):
        for init in (root / folder).rglob("__init__.py"):
            parts = init.parent.relative_to(root / folder).parts
            found.add(".".join((prefix, *parts)))
    assert found - listed == set()
