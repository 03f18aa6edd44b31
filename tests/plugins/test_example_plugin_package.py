"""The example third-party plugin package, pip-installed into this environment like a user would.

Installing takes a few seconds, so the whole module shares one install (and uninstalls it at the end).
"""

import json
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from healthcrawl.testing.servers import free_port

PACKAGE = Path(__file__).resolve().parents[2] / "examples" / "plugins" / "healthcrawl-security-headers"
DISTRIBUTION = "healthcrawl-security-headers"

pytestmark = pytest.mark.slow


def pip(*args):
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True)


def healthcrawl(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "healthcrawl", *args], capture_output=True, text=True, **kwargs)


@pytest.fixture(scope="module")
def installed_package(tmp_path_factory):
    """A copy of the package (so the build leaves nothing in the repository), pip-installed; uninstalled after."""
    assert pip("show", DISTRIBUTION).returncode != 0, (
        f"{DISTRIBUTION} is already installed here (an interrupted run?): pip uninstall {DISTRIBUTION}")
    source = tmp_path_factory.mktemp("plugin") / PACKAGE.name
    shutil.copytree(PACKAGE, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    install = pip("install", "--quiet", "--no-index", "--no-build-isolation", str(source))
    assert install.returncode == 0, install.stderr
    yield source
    uninstall = pip("uninstall", "--yes", "--quiet", DISTRIBUTION)
    assert uninstall.returncode == 0, uninstall.stderr


def test_after_pip_install_it_is_listed_by_healthcrawl_plugins(installed_package):
    proc = healthcrawl("plugins")
    assert proc.returncode == 0, proc.stderr
    listing = proc.stdout.split("\nsecurity_headers 0.1.0\n", 1)[1]
    source, types = listing.splitlines()[:2]
    assert "entry point security_headers = healthcrawl_security_headers" in source and DISTRIBUTION in source
    assert types.split(":", 1)[1].strip() == "check:security_headers, sink:webhook"


def test_it_checks_headers_and_posts_failures_in_a_crawl(installed_package, https_server, make_server,
                                                         healthcrawl_ca, tmp_path):
    secure = {"Strict-Transport-Security": "max-age=63072000", "X-Content-Type-Options": "nosniff",
              "Content-Security-Policy": "default-src 'self'"}
    site = https_server
    site.route("/secure", headers=secure)
    site.route("/weak", headers={**secure, "Strict-Transport-Security": "max-age=600"})
    hook = make_server()
    hook.route("/hook", status=204, body=b"")
    hook.route("/hook", status=503, times=1)  # the first delivery is retried
    refused = f"http://127.0.0.1:{free_port()}/"
    config = tmp_path / "crawl.yaml"
    config.write_text(textwrap.dedent(f"""
        crawl: {{timeout: 5, verify: {healthcrawl_ca.ca_bundle_path}}}
        sources:
          - type: list
            targets: ["{site.url('/secure')}", "{site.url('/weak')}", "{refused}"]
        checks:
          - type: security_headers
            hsts_min_max_age: 86400
        sinks:
          - type: jsonl
            path: results.jsonl
          - type: webhook
            url: {hook.url('/hook')}
            backoff: 0.05
    """))
    proc = healthcrawl("run", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "targets: 3   ok: 1   failed a check: 1   errors: 1" in proc.stdout
    records = {r["target"]: r for r in map(json.loads, (tmp_path / "results.jsonl").read_text().splitlines())}
    assert records[site.url("/weak")]["checks"] == [
        {"name": "security_headers", "ok": False, "detail": "Strict-Transport-Security max-age 600 < 86400"}]
    delivered = [json.loads(r.body) for r in hook.requests]
    assert len(delivered) == 3, "two failed results, one of them POSTed twice"
    assert {d["target"]: d for d in delivered} == {t: records[t] for t in (site.url("/weak"), refused)}


def test_its_own_test_suite_passes(installed_package):
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"],
                          capture_output=True, text=True, cwd=installed_package)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
