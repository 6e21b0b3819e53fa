"""Headless Chromium (Debian's `chromium` package) for the coverage page tests."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
# Offline and quiet: no DNS, no background fetches; --no-sandbox because CI runs as root.
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--host-resolver-rules=MAP * ~NOTFOUND",
    "--no-first-run", "--hide-scrollbars",
)


def chromium() -> str:
    """The browser's path; skips the test, saying how to get it, when there is none."""
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed: `apt-get install -y chromium` "
                "(`python3 scripts/dev.py test` installs it on Debian/Ubuntu when run as root)")
    raise AssertionError  # unreachable: skip raises


def run_browser(
    page: Path, profile: Path, *args: str, fragment: str = "",
) -> subprocess.CompletedProcess[str]:
    url = page.resolve().as_uri() + (f"#{fragment}" if fragment else "")
    return subprocess.run(
        [chromium(), *FLAGS, f"--user-data-dir={profile}", *args, url],
        capture_output=True, text=True, timeout=120, check=False,
    )


def dump_dom(page: Path, profile: Path, fragment: str = "") -> str:
    """The DOM after the page's scripts ran."""
    done = run_browser(page, profile, "--dump-dom", fragment=fragment)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def screenshot(page: Path, profile: Path, png: Path, size: str = "1400,1000") -> Path:
    done = run_browser(page, profile, f"--screenshot={png}", f"--window-size={size}")
    assert done.returncode == 0, done.stderr[-3000:]
    assert png.exists(), done.stderr[-3000:]
    return png


class HeatmapParser(HTMLParser):
    """The rendered rectangles of each vendor's heatmap, with their row's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.vendor: str | None = None
        self.totals: dict[tuple[str, str], int] = {}
        self._total: tuple[str, str] | None = None
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "body":
            self.body = found
        elif tag == "section" and found.get("data-vendor"):
            self.vendor = found["data-vendor"]
        elif tag == "g" and found.get("class") == "service-row":
            self.rows.append({**found, "vendor": self.vendor, "runs": []})
        elif tag == "rect" and found.get("data-status") and self.rows:
            self.rows[-1]["runs"].append(found)
        elif tag == "span" and found.get("data-total") and self.vendor:
            self._total = (self.vendor, str(found["data-total"]))

    def handle_data(self, data: str) -> None:
        if self._total:
            self.totals[self._total] = int(data)
            self._total = None


def parse_heatmap(dom: str) -> HeatmapParser:
    parser = HeatmapParser()
    parser.feed(dom)
    return parser
