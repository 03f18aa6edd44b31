"""The progress bar: drawn when stderr is a terminal (a real pseudo-terminal here), never into a pipe or with --quiet."""

import contextlib
import json
import os
import pty

import pytest

from healthcrawl.testing.servers import HTTPTestServer


class Terminal:
    """A pseudo-terminal: ``stream`` is its writing end, ``shown()`` what it displayed."""

    def __init__(self):
        self._leader, follower = pty.openpty()
        self.stream = open(follower, "w", encoding="utf-8")

    def shown(self) -> str:
        """Close the writing end and return everything written to it (the bar writes a few hundred bytes)."""
        self.stream.close()
        shown = b""
        while True:
            try:
                data = os.read(self._leader, 65536)
            except OSError:  # EIO: the writing end is closed and everything was read
                break
            if not data:
                break
            shown += data
        return shown.decode()

    def close(self) -> None:
        self.stream.close()
        os.close(self._leader)


@pytest.fixture
def terminal():
    term = Terminal()
    yield term
    term.close()


def write_config(tmp_path, targets):
    config = tmp_path / "crawl.json"
    config.write_text(json.dumps({
        "crawl": {"workers": 1},
        "sources": [{"type": "list", "targets": targets}],
        "checks": [{"type": "status"}],
    }))
    return config


def test_a_terminal_gets_done_of_total_rate_eta_and_counts(tmp_path, healthcrawl_cli, terminal):
    with HTTPTestServer() as server:
        config = write_config(tmp_path, [server.url("/") + f"?{i}" for i in range(30)] + [server.url("/missing")])
        with contextlib.redirect_stderr(terminal.stream):
            result = healthcrawl_cli("run", config)
    shown = terminal.shown()
    assert result.exit_code == 0, shown
    last = [part for part in shown.split("\r") if part.strip()][-1]
    assert "31/31" in last and "100%" in last and "/s" in last and "ETA" in last, shown
    assert "ok 30" in last and "failed 1" in last, shown


def test_nothing_is_drawn_into_a_pipe_or_with_quiet(tmp_path, healthcrawl_cli, terminal):
    with HTTPTestServer() as server:
        config = write_config(tmp_path, [server.url("/")])
        piped = healthcrawl_cli("run", config)
        with contextlib.redirect_stderr(terminal.stream):
            quiet = healthcrawl_cli("run", "--quiet", config)
    assert piped.exit_code == 0 and quiet.exit_code == 0
    assert "ETA" not in piped.stderr and "/s" not in piped.stderr
    assert terminal.shown() == ""
