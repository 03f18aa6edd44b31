"""Target lines from the file, csv and list sources: every bad line is one invalid_target with a reason and a
safe stored target, before anything is fetched; reading keeps at most one line's worth in memory."""

import json
import subprocess
import sys
import textwrap

import pytest

from healthcrawl.target_lines import MAX_LINE_LENGTH, MAX_SKIPPED_LENGTH
from healthcrawl.target_parsing import MAX_TARGET_LENGTH
from healthcrawl.testing.crawl import run_crawl

BAD_LINES = [  # (bytes of the line, expected reason, expected stored target)
    (b"exa\x00mple.com", "contains a NUL byte", "exa\\x00mple.com"),
    (b"exa\xffmple.com", "contains an undecodable byte or a lone surrogate (\\udcff)", "exa\\udcffmple.com"),
    (b"exa\x07mple.com", "contains the control character \\x07", "exa\\x07mple.com"),
    (b"exa\xe2\x80\x8bmple.com", "invisible character U+200B", "exa\\u200bmple.com"),
]


def in_order(records):
    return sorted(records, key=lambda record: record["seq"])


def crawl_source(source, tmp_path):
    """The records of a crawl of ``source``, in the source's order."""
    return in_order(run_crawl({"crawl": {"timeout": 2}, "sources": [source], "checks": []}, base_dir=tmp_path))


def assert_bad_lines_reported(records, good_url):
    assert len(records) == len(BAD_LINES) + 1
    assert records[0]["target"] == good_url and records[0]["ok"] is True
    for record, (_, reason, stored) in zip(records[1:], BAD_LINES):
        assert record["error_kind"] == "invalid_target"
        assert reason in record["error"] and record["target"] == stored


def test_file_source_reports_each_bad_line(http_server, tmp_path):
    (tmp_path / "targets.txt").write_bytes(b"\n".join([http_server.url("/").encode()] + [line for line, _, _ in BAD_LINES]))
    records = crawl_source({"type": "file", "path": "targets.txt"}, tmp_path)
    assert_bad_lines_reported(records, http_server.url("/"))


def test_csv_source_reports_each_bad_target_cell(http_server, tmp_path):
    rows = [b"target,note", http_server.url("/").encode() + b",good"] + [line + b",bad \xff" for line, _, _ in BAD_LINES]
    (tmp_path / "targets.csv").write_bytes(b"\r\n".join(rows))
    records = crawl_source({"type": "csv", "path": "targets.csv"}, tmp_path)
    assert_bad_lines_reported(records, http_server.url("/"))


def test_list_source_reports_each_bad_target(http_server, tmp_path):
    targets = [http_server.url("/")] + [line.decode("utf-8", "surrogateescape") for line, _, _ in BAD_LINES]
    records = crawl_source({"type": "list", "targets": targets}, tmp_path)
    assert_bad_lines_reported(records, http_server.url("/"))


@pytest.mark.parametrize("source_type", ["file", "csv"])
def test_an_overlong_line_is_one_invalid_target_and_the_lines_after_it_are_read(source_type, http_server, tmp_path):
    first, last = http_server.url("/first"), http_server.url("/last")
    longest = "https://example.com/" + "a" * (MAX_TARGET_LENGTH - 20)
    lines = ["target"] if source_type == "csv" else []
    lines += [first, longest, "b" * (MAX_LINE_LENGTH // 2), "x" * MAX_LINE_LENGTH, "y" * (MAX_LINE_LENGTH + 1), last]
    (tmp_path / "targets").write_text("\n".join(lines) + "\n")
    records = crawl_source({"type": source_type, "path": "targets"}, tmp_path)
    assert [r["target"][:30] for r in records] == [
        first[:30], longest[:30], "b" * 30, "x" * 30, "y" * 30, last[:30],
    ]
    assert records[0]["ok"] and records[-1]["ok"]
    assert records[1]["error_kind"] == "dns_error" or records[1]["error_kind"] != "invalid_target"  # fetched
    assert records[2]["error"] == f"longer than {MAX_TARGET_LENGTH} characters ({MAX_LINE_LENGTH // 2})"
    assert records[3]["error"] == f"longer than {MAX_TARGET_LENGTH} characters ({MAX_LINE_LENGTH})"
    line = len(lines) - 1
    assert records[4]["error"] == f"line {line} of targets is longer than {MAX_LINE_LENGTH} characters"
    assert all(len(r["target"]) <= MAX_TARGET_LENGTH + 40 for r in records)


def test_a_csv_row_the_csv_module_refuses_is_an_invalid_target(http_server, tmp_path):
    quoted = '"' + "\n".join(["z" * 8000] * 20) + '"'  # one quoted cell over more lines than the csv field limit
    (tmp_path / "t.csv").write_text(f"target\n{http_server.url('/a')}\n{quoted}\n{http_server.url('/b')}\n")
    records = crawl_source({"type": "csv", "path": "t.csv"}, tmp_path)
    assert records[0]["ok"] and records[-1]["ok"] and records[-1]["target"] == http_server.url("/b")
    assert "t.csv, line 19: field larger than field limit" in records[1]["error"]
    # the csv module goes on after the lines it gave up on: the rest of the cell's lines are rows of their own
    assert {r["error_kind"] for r in records[1:-1]} == {"invalid_target"} and len(records) < 20


def test_a_csv_header_row_that_is_too_long_is_a_config_error(tmp_path):
    from healthcrawl import ConfigError

    (tmp_path / "t.csv").write_text("target," + "c" * MAX_LINE_LENGTH + "\nexample.com\n")
    with pytest.raises(ConfigError, match="the header row"):
        crawl_source({"type": "csv", "path": "t.csv"}, tmp_path)


def crawl_in_a_child(tmp_path, source):
    """Run ``healthcrawl run`` on ``source`` in a child process: its records and its peak RSS in MB."""
    config = tmp_path / "crawl.yaml"
    config.write_text(textwrap.dedent(f"""
        crawl: {{timeout: 2, workers: 1}}
        sources: [{json.dumps(source)}]
        checks: []
        sinks: [{{type: jsonl, path: out.jsonl}}]
    """))
    proc = subprocess.run([sys.executable, "-c", MEASURED_RUN, str(config)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr
    peak_mb = int(proc.stderr.rpartition("peak_rss_kb=")[2]) / 1024
    records = in_order(json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines())
    print(f"{source}: {len(records)} records, peak RSS {peak_mb:.0f} MB")
    return records, peak_mb


MEASURED_RUN = """
import resource, runpy, sys
sys.argv = ["healthcrawl", "run", sys.argv[1]]
try:
    runpy.run_module("healthcrawl", run_name="__main__")
finally:  # the larger of this process's and its worker processes' peaks
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    print(f"peak_rss_kb={peak}", file=sys.stderr)
"""


MEMORY_BOUND_MB = 200  # the crawler alone is about 60 MB; reading a whole 300 MB line took 2.4 GB


@pytest.mark.slow
def test_dev_zero_gives_two_invalid_targets_with_flat_memory(tmp_path):
    records, peak_mb = crawl_in_a_child(tmp_path, {"type": "file", "path": "/dev/zero"})
    assert [r["error_kind"] for r in records] == ["invalid_target", "invalid_target"]
    assert records[0]["error"] == f"line 1 of /dev/zero is longer than {MAX_LINE_LENGTH} characters"
    assert records[1]["error"] == f"line 1 of /dev/zero goes on past {MAX_SKIPPED_LENGTH} characters: the rest is not read"
    assert records[0]["target"].startswith("\\x00\\x00") and len(records[0]["target"]) < 4 * MAX_TARGET_LENGTH + 40
    assert peak_mb < MEMORY_BOUND_MB


@pytest.mark.slow
@pytest.mark.parametrize("source_type", ["file", "csv"])
def test_a_300_mb_line_is_skipped_with_flat_memory(source_type, tmp_path):
    path = tmp_path / "big"
    with open(path, "wb") as file:  # sparse: the long line is 300 MB of NUL bytes that take no disk
        file.write(b"target\nftp://before/\n" if source_type == "csv" else b"ftp://before/\n")
        file.seek(300 * 2**20, 1)
        file.write(b"\nftp://after/\n")
    records, peak_mb = crawl_in_a_child(tmp_path, {"type": source_type, "path": "big"})
    assert [r["target"][:12] for r in records] == ["ftp://before", "\\x00\\x00\\x00", "ftp://after/"]
    assert "is longer than" in records[1]["error"]
    assert peak_mb < MEMORY_BOUND_MB


@pytest.mark.parametrize("source_type, newline", [("file", "\n"), ("csv", "\r\n"), ("csv", "\r"), ("file", "\r")])
def test_a_line_of_the_maximum_length_is_read_whatever_its_end_and_the_last_needs_none(source_type, newline, tmp_path):
    longest = "z" * MAX_LINE_LENGTH  # a line the reader keeps whole (the target in it is too long)
    lines = (["target"] if source_type == "csv" else []) + [longest, "ftp://middle/", longest]
    (tmp_path / "t").write_bytes(newline.join(lines).encode())  # no end after the last line
    records = crawl_source({"type": source_type, "path": "t"}, tmp_path)
    assert [r["error"] for r in records] == [
        f"longer than {MAX_TARGET_LENGTH} characters ({MAX_LINE_LENGTH})",
        "unsupported scheme 'ftp' (only http and https)",
        f"longer than {MAX_TARGET_LENGTH} characters ({MAX_LINE_LENGTH})",
    ]


def test_an_overlong_last_line_without_an_end_is_one_invalid_target(tmp_path):
    (tmp_path / "t").write_text("ftp://first/\n" + "w" * (3 * MAX_LINE_LENGTH))
    records = crawl_source({"type": "file", "path": "t"}, tmp_path)
    assert [r["error"] for r in records] == [
        "unsupported scheme 'ftp' (only http and https)", f"line 2 of t is longer than {MAX_LINE_LENGTH} characters",
    ]
    assert records[1]["target"] == "w" * MAX_TARGET_LENGTH + f"... (cut at {MAX_TARGET_LENGTH} characters)"


def test_the_line_numbers_of_overlong_lines_count_every_line(tmp_path):
    long = "v" * (MAX_LINE_LENGTH + 1)
    (tmp_path / "t").write_text("\n".join(["# comment", "", long, "ftp://x/", long, ""]))
    records = crawl_source({"type": "file", "path": "t"}, tmp_path)
    assert [r["error"] for r in records] == [
        f"line 3 of t is longer than {MAX_LINE_LENGTH} characters",
        "unsupported scheme 'ftp' (only http and https)",
        f"line 5 of t is longer than {MAX_LINE_LENGTH} characters",
    ]


def test_the_documented_limits():
    assert (MAX_TARGET_LENGTH, MAX_LINE_LENGTH, MAX_SKIPPED_LENGTH) == (2048, 8192, 536_870_912)  # docs/results.md
