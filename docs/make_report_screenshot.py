"""Make ``docs/report-screenshot.png``: the offline-demo example's HTML report as headless Chromium draws it.

Runs the offline demo twice in a temporary folder (so the report has a previous run to compare with),
writes its report, and opens it with networking off (see ``tests/report/headless_chromium.py``). Run
``python docs/make_report_screenshot.py`` from the repository after changing the report; it needs
``pip install '.[report]'`` and Debian's ``chromium``.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
sys.path.insert(0, str(DOCS.parent))

from tests.report.headless_chromium import open_page  # noqa: E402

SCREENSHOT = DOCS / "report-screenshot.png"


def healthcrawl(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "healthcrawl", *args], cwd=cwd, check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="healthcrawl-report-screenshot-") as folder:
        workdir = Path(folder)
        for _ in range(2):
            healthcrawl("examples", "run", "offline-demo", cwd=workdir)
        healthcrawl("report", "--db", "sqlite:///offline-demo.db", "-o", "report.html", cwd=workdir)
        page = open_page(workdir / "report.html", screenshot=SCREENSHOT)
    if 'data-charts="drawn"' not in page.dom or page.console:
        sys.exit(f"the report did not draw cleanly: {page.console}")
    print(f"wrote {SCREENSHOT}")


if __name__ == "__main__":
    main()
