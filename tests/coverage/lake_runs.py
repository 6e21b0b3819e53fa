"""A real tap piped into the real loader, and an independent reading of the lake it makes.

The coverage command is checked against `days_in_lake`, which reads the Parquet files one
by one with plain Python and the vendors' documented finality fields, sharing no code with
the command.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from target_parquet_lake.coverage.cli import main

BIN = Path(sys.executable).parent
DAY = dt.timedelta(days=1)
Service = tuple[str, str]


@dataclass
class PipeRun:
    tap_returncode: int
    target_returncode: int
    tap_stderr: str
    state: dict[str, Any] | None  # the last STATE the loader emitted


def tap_into_loader(
    vendor: str, tap_config: dict[str, Any], lake: Path, tmp_path: Path,
    *, state: dict[str, Any] | None = None, destination: str | None = None,
) -> PipeRun:
    """`tap-vendor<v> --config ... | target-parquet --config ...` into `<lake>/vendor<v>`
    (or `destination`, e.g. on S3; the run summary still goes to `<lake>/vendor<v>`)."""
    folder = lake / f"vendor{vendor}"
    tap_file, target_file = tmp_path / f"tap-{vendor}.json", tmp_path / "target.json"
    tap_file.write_text(json.dumps(
        {**tap_config, "summary_path": str(folder / "_run_summary.json")}))
    target_file.write_text(json.dumps({"destination_path": destination or str(folder),
                                       "partition_cols": "date"}))
    tap_cmd = [str(BIN / f"tap-vendor{vendor}"), "--config", str(tap_file)]
    if state is not None:
        state_file = tmp_path / f"state-{vendor}.json"
        state_file.write_text(json.dumps(state))
        tap_cmd += ["--state", str(state_file)]
    tap_err = tmp_path / "tap.err"
    with tap_err.open("w") as err:
        tap = subprocess.Popen(tap_cmd, stdout=subprocess.PIPE, stderr=err)
        target = subprocess.run(
            [str(BIN / "target-parquet"), "--config", str(target_file)], stdin=tap.stdout,
            capture_output=True, text=True, timeout=180, check=False,
        )
        assert tap.stdout is not None
        tap.stdout.close()
        tap_rc = tap.wait(timeout=60)
    states = [json.loads(line) for line in target.stdout.splitlines() if line.strip()]
    assert target.returncode == 0, target.stderr[-3000:]
    return PipeRun(tap_rc, target.returncode, tap_err.read_text(),
                   states[-1] if states else None)


def coverage_script(
    *args: str | Path, env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """The real console script."""
    return subprocess.run(
        [str(BIN / "target-parquet-coverage"), *map(str, args)],
        capture_output=True, text=True, timeout=120, check=False, env=env,
    )


def coverage(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """The command's `main` in this process: the same code as the script, without the
    second or so of interpreter start-up per call."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(arg) for arg in args])
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def _y_not_final(row: dict[str, Any]) -> bool:
    missing_hours = json.loads(row["missing_hours"]) if row.get("missing_hours") else []
    return bool(row.get("estimated") or row.get("incomplete") or missing_hours)


# Each vendor's documented finality fields (VENDOR_CONTRACTS.md). A new vendor needs its
# line here, and its fields covered by the command's default rules (docs/coverage.md).
NOT_FINAL: dict[str, Callable[[dict[str, Any]], bool]] = {
    "x": lambda row: row.get("is_final") is False,
    "y": _y_not_final,
    "z": lambda row: row.get("final") is False,
}


def _not_final(vendor: str, row: dict[str, Any]) -> bool:
    return NOT_FINAL[vendor](row)


# Each vendor's documented "this service is gone" field.
ENDED: dict[str, Callable[[dict[str, Any]], bool]] = {
    "x": lambda row: row.get("deleted_at") is not None,
    "y": lambda row: bool(row.get("archived")),
    "z": lambda row: row.get("archived_at") is not None,
}


def ended_services(lake: Path, vendor: str) -> set[Service]:
    """Services any `services` record of the lake says were deleted or archived."""
    return {
        (row["account_id"], row["service_id"])
        for path in (lake / f"vendor{vendor}" / "services").rglob("*.parquet")
        for row in pq.ParquetFile(path).read().to_pylist()
        if ENDED[vendor](row)
    }


def days_in_lake(lake: Path, vendor: str) -> dict[Service, dict[dt.date, bool]]:
    """(account, service) -> {day: final?}; a day is final when any of its records is."""
    found: dict[Service, dict[dt.date, bool]] = {}
    for path in sorted((lake / f"vendor{vendor}" / "metrics").rglob("*.parquet")):
        day = dt.date.fromisoformat(path.parent.name.removeprefix("date="))
        for row in pq.ParquetFile(path).read().to_pylist():
            days = found.setdefault((row["account_id"], row["service_id"]), {})
            days[day] = days.get(day, False) or not _not_final(vendor, row)
    return found


def missing_ranges(
    status: dict[Service, dict[dt.date, str]],
) -> list[tuple[str, str, str, int]]:
    """(account, service, span, days) of each run of missing days, as the table lists them."""
    ranges = []
    for (account, service), days in sorted(status.items()):
        run: list[dt.date] = []
        for day in [*sorted(days), None]:
            if day is not None and days[day] == "missing" and (not run or run[-1] + DAY == day):
                run.append(day)
                continue
            if run:
                span = run[0].isoformat() if len(run) == 1 else f"{run[0]}..{run[-1]}"
                ranges.append((account, service, span, len(run)))
            run = [day] if day is not None and days[day] == "missing" else []
    return ranges


def expected_status(
    found: dict[Service, dict[dt.date, bool]],
    failed: frozenset[Service] | set[Service] = frozenset(),
    ended: frozenset[Service] | set[Service] = frozenset(),
) -> dict[Service, dict[dt.date, str]]:
    """Per service and day: final / not_final / missing, as the coverage docs define it."""
    failed = set(failed) - set(ended)
    vendor_first = min(min(days) for days in found.values())
    vendor_last = max(max(days) for days in found.values())
    expected: dict[Service, dict[dt.date, str]] = {}
    # A failed service that never landed a day is expected over its vendor's whole range.
    never_landed: dict[Service, dict[dt.date, bool]] = {k: {} for k in set(failed) - set(found)}
    for service, days in {**found, **never_landed}.items():
        last = vendor_last if service in failed else max(days)
        status = {}
        day = min(days) if days else vendor_first
        while day <= last:
            status[day] = ("missing" if day not in days
                           else "final" if days[day] else "not_final")
            day += DAY
        expected[service] = status
    return expected
