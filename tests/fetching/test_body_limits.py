"""Bodies are read up to max_body_bytes and no further: huge bodies and gzip bombs never enter memory."""

import json
import subprocess
import sys
import textwrap

from healthcrawl.testing.crawl import records_by_target, run_crawl
from healthcrawl.testing.servers import HTTPTestServer

TEN_GB = 10 * 1024**3


def test_body_is_cut_at_max_body_bytes():
    with HTTPTestServer() as server:
        server.route("/big", body_size=5_000_000)
        server.route("/small", body="healthy")
        config = {
            "crawl": {"max_body_bytes": 1000},
            "sources": [{"type": "list", "targets": [server.url("/big"), server.url("/small")]}],
            "checks": [{"type": "body_match", "pattern": "healthy"}],
        }
        records = records_by_target(run_crawl(config))
    big, small = records[server.url("/big")], records[server.url("/small")]
    assert big["body_bytes"] == 1000 and big["body_truncated"] is True
    assert small["body_bytes"] == 7 and small["body_truncated"] is False and small["ok"] is True


def test_ten_gigabyte_body_and_gzip_bomb_keep_peak_rss_under_200_mb(tmp_path):
    """Runs the real CLI in a child process and reads the child's own peak RSS from wait4()."""
    with HTTPTestServer() as server:
        server.route("/huge", body_size=TEN_GB)
        server.route("/bomb", gzip_bomb_size=TEN_GB)
        config = tmp_path / "crawl.yaml"
        out = tmp_path / "out.jsonl"
        config.write_text(textwrap.dedent(f"""
            crawl: {{timeout: 20, max_body_bytes: 1048576}}
            sources: [{{type: list, targets: ["{server.url('/huge')}", "{server.url('/bomb')}"]}}]
            checks: [{{type: status}}]
            sinks: [{{type: jsonl, path: "{out}"}}]
        """))
        # The wrapper (not monkey-patched) runs the CLI and reports its child's peak RSS.
        wrapper = (
            "import resource, subprocess, sys;"
            "code = subprocess.call([sys.executable, '-m', 'healthcrawl', 'run', '-q', sys.argv[1]]);"
            "print(code, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
        )
        child = subprocess.run([sys.executable, "-c", wrapper, str(config)], capture_output=True, text=True, timeout=120)
    exit_code, peak_rss_kb = map(int, child.stdout.split())
    assert exit_code == 0, child.stderr
    records = {r["target"]: r for r in map(json.loads, out.read_text().splitlines())}
    for path in ("/huge", "/bomb"):
        record = records[server.url(path)]
        assert record["error_kind"] is None, record["error"]
        assert record["body_bytes"] == 1048576 and record["body_truncated"] is True
    peak_rss_mb = peak_rss_kb / 1024  # Linux reports kilobytes
    assert peak_rss_mb < 200, f"peak RSS {peak_rss_mb:.0f} MB"

