"""What the demo prints after its run: rows and distinct keys labelled apart, and a query
command that runs as printed and gives the latest row per key."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.lake.lake_io import run_target
from tests.lake.test_s3_target import messages, rows

SHOW_OUTPUT = Path(__file__).resolve().parents[2] / "scripts" / "show_output.py"


def test_rows_with_reemitted_days_and_distinct_keys_are_told_apart_and_the_query_runs(
    tmp_path,
):
    lake = tmp_path / "output" / "vendorx"
    config = {"destination_path": str(lake), "partition_cols": "date"}
    # Three runs, the later ones re-emitting (revising) keys the first loaded.
    run_target(config, messages(rows(12)))
    run_target(config, messages(rows(8, requests_offset=100)))
    run_target(config, messages(rows(4, requests_offset=200)))

    shown = subprocess.run([sys.executable, str(SHOW_OUTPUT), "output/vendorx", "--job",
                            "tap-vendorx-to-target-parquet"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, check=False)
    assert shown.returncode == 0, shown.stderr[-3000:]
    out = shown.stdout
    assert re.search(r"stream\s+rows\s+distinct keys\s+files\s+keys", out), out
    files = len(list((lake / "metrics").rglob("*.parquet")))
    assert re.search(rf"metrics\s+24\s+12\s+{files}\s+account_id, service_id, date", out), out
    assert "so rows grow from run to run" in out
    assert "python3 scripts/dev.py demo" in out
    assert "meltano state get dev:tap-vendorx-to-target-parquet" in out

    # The printed query, run as printed from the same folder, shows the latest values.
    (command,) = [line.strip() for line in out.splitlines() if "import duckdb" in line]
    queried = subprocess.run(command, shell=True, cwd=tmp_path, capture_output=True,  # noqa: S602
                             text=True, timeout=120, check=False)
    assert queried.returncode == 0, queried.stderr[-3000:]
    shown_requests = {int(n) for n in re.findall(r"│\s+s(\d+)\s+│", queried.stdout)}
    assert shown_requests, queried.stdout
    for line in queried.stdout.splitlines():
        found = re.search(r"│\s+s(\d+)\s+│\s+(\d+)\s+│", line)
        if found:
            service = int(found.group(1))
            latest = service + (200 if service < 4 else 100 if service < 8 else 0)
            assert int(found.group(2)) == latest, line
