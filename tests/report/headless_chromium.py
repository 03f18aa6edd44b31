"""Open a local HTML file in Debian's headless Chromium with networking off: its DOM once idle, its console, a screenshot.

Used by the report tests and by ``docs/make_report_screenshot.py``. Every request the page might make
goes to ``proxy`` (a loopback server the caller watches) or, without one, to a closed port, and every
host name resolves to nothing, so a page that needs the network cannot load it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
"""The browser's path, ``None`` when it is not installed (``apt-get install chromium``)."""
VIRTUAL_TIME_MS = 20_000
"""Virtual time the page may run before its DOM is read: timers run fast-forward, loading waits for idle."""
WINDOW = (1280, 2400)
_CONSOLE_LINE = re.compile(r":CONSOLE[^\]]*\] (.*)$")


@dataclass(frozen=True)
class PageLoad:
    """What the browser made of a page."""

    dom: str
    """The serialised DOM after the page settled (``--dump-dom``)."""
    console: list[str]
    """Messages the page wrote to its console, uncaught errors included."""


def open_page(page: Path, screenshot: Path | None = None, proxy: str | None = None) -> PageLoad:
    """Load ``page`` (a local file) once for its DOM and console, and once more for a screenshot if asked."""
    dom, console = _run(page, "--dump-dom", proxy)
    if screenshot is not None:
        _, more = _run(page, f"--screenshot={screenshot}", proxy)
        console += more
    return PageLoad(dom, console)


def _run(page: Path, action: str, proxy: str | None) -> tuple[str, list[str]]:
    if CHROMIUM is None:
        raise FileNotFoundError("chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="healthcrawl-chromium-") as profile:
        command = [
            CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-extensions",
            f"--user-data-dir={profile}", f"--proxy-server={proxy or 'http://127.0.0.1:9'}",
            "--proxy-bypass-list=<-loopback>", "--host-resolver-rules=MAP * ~NOTFOUND",
            "--enable-logging=stderr", "--v=0", "--hide-scrollbars", f"--window-size={WINDOW[0]},{WINDOW[1]}",
            f"--virtual-time-budget={VIRTUAL_TIME_MS}", action, page.resolve().as_uri(),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    if done.returncode != 0:
        raise RuntimeError(f"chromium exited with {done.returncode}: {done.stderr[-2000:]}")
    console = [match.group(1) for line in done.stderr.splitlines() if (match := _CONSOLE_LINE.search(line))]
    return done.stdout, console
