"""The HTML page, rendered by a real headless browser, shows what the lake holds.

The lake: a VendorX run, then a run three days later in which one service's partition
fails, then one day's partition deleted by hand. The page's heatmap (drawn by its script)
must show every service's days as final / not final / missing exactly as the Parquet files
say, with the failed service marked and its trailing days hatched.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest

from tests.coverage.browser import chromium, dump_dom, parse_heatmap, screenshot
from tests.coverage.lake_runs import (
    DAY,
    coverage,
    days_in_lake,
    ended_services,
    expected_status,
    tap_into_loader,
)
from tests.taps.conftest import BASE_TODAY, sandbox_config, tap_config
from vendor_sandbox import run_sandbox

VENDOR = "x"


@pytest.fixture(scope="module")
def lake_with_gaps(tmp_path_factory):
    chromium()  # skip before building the lake when there is no browser
    tmp_path = tmp_path_factory.mktemp("coverage-page")
    lake = tmp_path / "lake"
    early_end, end = BASE_TODAY - 4 * DAY, BASE_TODAY - DAY
    with run_sandbox(sandbox_config(VENDOR, accounts=4)) as sandbox:
        config = tap_config(VENDOR, sandbox.url, end_date=early_end.isoformat(), max_retries=0)
        first = tap_into_loader(VENDOR, config, lake, tmp_path)
        assert first.tap_returncode == 0, first.tap_stderr[-3000:]
        found, ended = days_in_lake(lake, VENDOR), ended_services(lake, VENDOR)
        victim = sorted(key for key, days in found.items()
                        if max(days) == early_end and key not in ended)[-1]
        sandbox.update(fail_services=frozenset({victim[1]}))
        second = tap_into_loader(VENDOR, {**config, "end_date": end.isoformat()}, lake,
                                 tmp_path, state=first.state)
        assert second.tap_returncode == 1, second.tap_stderr[-3000:]
    shutil.rmtree(lake / f"vendor{VENDOR}" / "metrics" / f"date={end - 9 * DAY}")
    return lake, victim


def days_of(run: dict) -> list[dt.date]:
    first, last = dt.date.fromisoformat(run["data-start"]), dt.date.fromisoformat(run["data-end"])
    return [first + i * DAY for i in range((last - first).days + 1)]


def test_the_rendered_heatmap_matches_the_lake(lake_with_gaps, tmp_path):
    lake, victim = lake_with_gaps
    page = tmp_path / "coverage.html"
    result = coverage(lake, "--html", page)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"coverage page: {page.resolve()}" in result.stdout

    html = page.read_text()
    # Self-contained: nothing to fetch (the one URL is the SVG namespace, a name).
    assert "<link" not in html
    assert " src=" not in html
    assert html.replace("http://www.w3.org/2000/svg", "").count("://") == 0

    shown = parse_heatmap(dump_dom(page, tmp_path / "profile"))
    assert shown.body.get("data-rendered") == "true", "the page's script did not finish"

    expected = expected_status(days_in_lake(lake, VENDOR), failed={victim},
                               ended=ended_services(lake, VENDOR))
    drawn: dict[tuple[str, str], dict[dt.date, str]] = {}
    for row in shown.rows:
        assert row["vendor"] == f"vendor{VENDOR}"
        key = (row["data-account"], row["data-service"])
        drawn[key] = {day: run["data-status"] for run in row["runs"] for day in days_of(run)}
        assert row["data-failed"] == ("true" if key == victim else "false")
    assert drawn == expected

    # The failed service's trailing days are hatched; the deleted day is a plain hole.
    after_failure = {(key, run["data-start"]) for row in shown.rows for run in row["runs"]
                     for key in [(row["data-account"], row["data-service"])]
                     if run["data-after-failure"] == "true"}
    assert after_failure == {(victim, (BASE_TODAY - 3 * DAY).isoformat())}
    missing = [s for days in expected.values() for s in days.values() if s == "missing"]
    assert len(missing) > 3, "the deleted day should leave holes besides the failed service"
    for status in ("final", "not_final", "missing"):
        assert shown.totals[(f"vendor{VENDOR}", status)] == sum(
            s == status for days in expected.values() for s in days.values())

    # `#only-gaps` draws only the services with missing days (the failed one among them).
    filtered = parse_heatmap(dump_dom(page, tmp_path / "profile", fragment="only-gaps"))
    assert {(row["data-account"], row["data-service"]) for row in filtered.rows} == {
        key for key, days in expected.items() if "missing" in days.values()}
    assert len(filtered.rows) < len(shown.rows)


def test_the_page_draws_something_a_person_can_read(lake_with_gaps, tmp_path):
    lake, _ = lake_with_gaps
    page = tmp_path / "coverage.html"
    coverage(lake, "--html", page)
    png = screenshot(page, tmp_path / "profile", tmp_path / "coverage.png")
    # A blank or unstyled page compresses to a few KB; the heatmap's colours do not.
    assert png.stat().st_size > 20_000
    keep = lake.parent / "coverage.png"  # kept for a person to look at (pytest --basetemp)
    shutil.copy(png, keep)
