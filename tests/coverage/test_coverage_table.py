"""The terminal report and its exit code, on a lake a real tap run wrote through the loader.

Run 1 lands every service; run 2 (three days later) fails one service's partition, so
that service is three days behind: a gap, exit 1. Run 3 fills it: exit 0. Deleting one day's
partition then leaves a hole in every service that spans it: exit 1 again.
"""

from __future__ import annotations

import re
import shutil

import pytest

from tests.coverage.lake_runs import (
    DAY,
    coverage,
    coverage_script,
    days_in_lake,
    ended_services,
    expected_status,
    missing_ranges,
    tap_into_loader,
)
from tests.registry import VENDORS
from tests.taps.conftest import BASE_TODAY, sandbox_config, tap_config
from vendor_sandbox import run_sandbox

GAP_ROW = re.compile(r"^\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+missing\s+(.*)$", re.MULTILINE)


def gap_rows(stdout: str) -> list[tuple[str, str, str, int, str]]:
    return [(a, s, span, int(n), why) for a, s, span, n, why in GAP_ROW.findall(stdout)]


def span(first, last) -> str:
    return first.isoformat() if first == last else f"{first}..{last}"


@pytest.mark.slow  # three tap runs into the loader per vendor: 10-40 s on the shared box
@pytest.mark.parametrize("vendor", VENDORS)
def test_gaps_from_failed_partitions_fail_the_check_until_the_next_run_fills_them(
    vendor, tmp_path,
):
    lake = tmp_path / "lake"
    early_end, end = BASE_TODAY - 4 * DAY, BASE_TODAY - DAY
    with run_sandbox(sandbox_config(vendor)) as sandbox:
        config = tap_config(vendor, sandbox.url, end_date=early_end.isoformat(),
                            max_retries=0)
        first = tap_into_loader(vendor, config, lake, tmp_path)
        assert first.tap_returncode == 0, first.tap_stderr[-3000:]
        clean = coverage(lake)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert clean.stdout.rstrip().endswith("no gaps")

        # In run 2 a service that has days up to the end of run 1 fails, and so does the
        # services listing of another account.
        found, ended = days_in_lake(lake, vendor), ended_services(lake, vendor)
        victim = sorted(key for key, days in found.items()
                        if max(days) == early_end and key not in ended)[0]
        account = sorted({a for a, _ in found} - {victim[0]})[0]
        sandbox.update(fail_services=frozenset({victim[1]}), fail_accounts=frozenset({account}))
        config = {**config, "end_date": end.isoformat()}
        second = tap_into_loader(vendor, config, lake, tmp_path, state=first.state)
        assert second.tap_returncode == 1, second.tap_stderr[-3000:]
        gaps = coverage_script(lake)  # the real console script, once
        failed = {victim} | {key for key in found if key[0] == account}
        expected_gaps = missing_ranges(expected_status(
            days_in_lake(lake, vendor), failed, ended_services(lake, vendor)))

        sandbox.update(fail_services=frozenset(), fail_accounts=frozenset())
        third = tap_into_loader(vendor, config, lake, tmp_path, state=second.state)
        assert third.tap_returncode == 0, third.tap_stderr[-3000:]
        filled = coverage(lake)

    assert gaps.returncode == 1, gaps.stdout + gaps.stderr
    rows = gap_rows(gaps.stdout)
    assert [row[:4] for row in rows] == expected_gaps
    assert (*victim, span(early_end + DAY, end), 3) in expected_gaps
    for account_id, service_id, _, _, why in rows:
        stream = "metrics" if (account_id, service_id) == victim else "services"
        assert why.startswith(f"failed in the last run ({stream}): PartitionError:"), why
    assert "2 failed partition(s)" in gaps.stdout
    assert (f"GAPS: {len(expected_gaps)} missing range(s), "
            f"{sum(n for *_, n in expected_gaps)} missing day(s) in vendor{vendor}") in gaps.stdout

    assert filled.returncode == 0, filled.stdout + filled.stderr
    assert gap_rows(filled.stdout) == []
    # The totals are the lake's, counted independently.
    status = expected_status(days_in_lake(lake, vendor))
    counts = {s: sum(v == s for days in status.values() for v in days.values())
              for s in ("final", "not_final", "missing")}
    assert counts["not_final"] > 0, "the window should end in days the vendor may revise"
    assert f"{len(status)} services, " in filled.stdout
    assert (f"{counts['final']} days final, {counts['not_final']} not final, "
            f"0 missing") in filled.stdout

    # Finality is a setting: the inverted rule swaps final and not final (both vendors'
    # lakes are read with it; VendorY's has no is_final, so every day counts as final).
    swapped = coverage(lake, "--not-final-when", "is_final=true")
    if vendor == "x":
        assert f"{counts['not_final']} days final, {counts['final']} not final" in swapped.stdout
    else:
        assert f"{counts['final'] + counts['not_final']} days final, 0 not final" in swapped.stdout

    # A day's partition deleted by hand: a hole in every service that has days around it.
    hole = end - 6 * DAY
    shutil.rmtree(lake / f"vendor{vendor}" / "metrics" / f"date={hole}")
    holed = coverage(lake, "--show-not-final")
    assert holed.returncode == 1
    spanning = sorted(key for key, days in found.items() if min(days) < hole < max(days))
    assert spanning, "no service spans the deleted day: the check would prove nothing"
    assert [row[:4] for row in gap_rows(holed.stdout)] == [
        (*key, hole.isoformat(), 1) for key in spanning]
    assert all(row[4] == "no records for these days" for row in gap_rows(holed.stdout))
    assert re.search(r"\d+\s+not final\s+not final yet", holed.stdout)


def test_bad_input_is_named_and_exits_2(tmp_path):
    missing = coverage(tmp_path / "nowhere")
    assert missing.returncode == 2
    assert missing.stderr.strip() == (
        f"target-parquet-coverage: lake {str(tmp_path / 'nowhere')!r}: no such directory")

    (tmp_path / "empty" / "vendorx" / "accounts").mkdir(parents=True)
    no_metrics = coverage(tmp_path / "empty")
    assert no_metrics.returncode == 2
    assert "no `metrics` stream found" in no_metrics.stderr

    lake = tmp_path / "lake"
    (lake / "vendorx" / "metrics").mkdir(parents=True)
    bad_rule = coverage(lake, "--not-final-when", "is_final")
    assert bad_rule.returncode == 2
    assert "--not-final-when 'is_final': expected COLUMN=CONDITION" in bad_rule.stderr

    (lake / "vendorx" / "_run_summary.json").write_text("{not json")
    bad_summary = coverage(lake)
    assert bad_summary.returncode == 2
    assert "_run_summary.json: cannot read it:" in bad_summary.stderr
    assert coverage(lake, "--no-summaries").returncode == 0

    # Credentials riding on an object-store URI never reach the output.
    secret = coverage("hdfs://AKIASEKRET:pwSEKRET@host/lake?secret_key=SEKRET3")
    assert secret.returncode == 2
    assert secret.stderr.startswith(
        "target-parquet-coverage: lake 'hdfs://***@host/lake?***': unsupported scheme 'hdfs'")
    assert "SEKRET" not in secret.stderr + secret.stdout

    unknown = coverage(lake, "--summary", "vendorq=x.json")
    assert unknown.returncode == 2
    assert "--summary vendorq=...: no such vendor in the lake" in unknown.stderr
