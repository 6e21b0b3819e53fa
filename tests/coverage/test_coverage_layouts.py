"""Lakes as they are found in practice: unpartitioned files, files whose types disagree
(an older writer stored the date as text and the flag as 0/1), a file without a key column.

The files are written with pyarrow directly, standing in for other writers; what the
loader writes itself is covered by the tap-into-loader tests."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.parquet as pq

from tests.coverage.lake_runs import coverage

DAY = dt.timedelta(days=1)
START = dt.date(2026, 3, 1)


def write(path, **columns) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.table(columns), path)


def test_unpartitioned_files_with_disagreeing_types_are_read_file_by_file(tmp_path):
    metrics = tmp_path / "lake" / "vendorx" / "metrics"
    days = [START + i * DAY for i in range(6)]
    # Days 0-2 by today's loader (date32, bool); days 4-5 by an older writer (text, 0/1);
    # day 3 is missing, day 5 not final.
    write(metrics / "metrics-new-0-0.parquet", account_id=["a"] * 3, service_id=["s"] * 3,
          date=pa.array(days[:3], pa.date32()), is_final=[True] * 3)
    write(metrics / "metrics-old-0-0.parquet", account_id=["a"] * 2, service_id=["s"] * 2,
          date=[d.isoformat() for d in days[4:]], is_final=pa.array([1, 0], pa.int8()))
    result = coverage(tmp_path / "lake")
    assert result.returncode == 1, result.stderr
    assert "1 services, 2026-03-01..2026-03-06; 4 days final, 1 not final, 1 missing" in (
        result.stdout)
    assert " 2026-03-04 " in result.stdout


def test_a_file_without_a_key_column_is_named(tmp_path):
    metrics = tmp_path / "lake" / "vendorx" / "metrics"
    write(metrics / "date=2026-03-01" / "metrics-1-0-0.parquet", account_id=["a"],
          requests=[1])
    result = coverage(tmp_path / "lake")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"target-parquet-coverage: {metrics}/date=2026-03-01/metrics-1-0-0.parquet: "
        "no column service_id")
