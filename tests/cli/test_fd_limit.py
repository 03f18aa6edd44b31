"""concurrency: 10000 works: the soft open-file limit is raised, or a too-low hard limit is a one-line config error.

A resource limit belongs to a process: each test runs ``python -m healthcrawl`` with the limits it sets.
"""

import json
import resource
import subprocess
import sys

from healthcrawl.testing.servers import HTTPTestServer


def run_with_file_limit(tmp_path, soft, hard, targets, concurrency=10000):
    config = tmp_path / "crawl.json"
    config.write_text(json.dumps({
        "crawl": {"concurrency": concurrency, "workers": 1, "timeout": 30},
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "status"}],
    }))

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return subprocess.run([sys.executable, "-m", "healthcrawl", "run", str(config)],
                          capture_output=True, text=True, timeout=120, preexec_fn=limit)


def test_concurrency_10000_raises_the_soft_limit_and_holds_thousands_of_connections(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_flight = 1500  # more than a default soft limit of 1024 allows
    assert hard >= 10064 and hard - 1 > 1024, f"this machine's hard limit ({hard}) cannot show it"
    with HTTPTestServer() as server:
        server.route("/slow", delay=1.0)
        targets = [server.url("/slow") + f"?{i}" for i in range(in_flight)]
        proc = run_with_file_limit(tmp_path, 1024, hard, targets)
        assert server.hits["/slow"] == in_flight
    assert proc.returncode == 0, proc.stderr
    assert f"targets: {in_flight}   ok: {in_flight}" in proc.stdout, proc.stdout + proc.stderr


def test_a_hard_limit_too_low_is_a_config_error_naming_concurrency(tmp_path):
    proc = run_with_file_limit(tmp_path, 256, 256, ["127.0.0.1"])
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: crawl.concurrency: 10000 connections need about 10064 open files")
    assert "Traceback" not in proc.stderr
