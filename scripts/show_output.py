"""Print where a run's Parquet files are and how many rows each stream holds.

    python scripts/show_output.py output/vendorx
"""

from __future__ import annotations

import sys
from pathlib import Path

import pyarrow.dataset as ds


def main() -> None:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "output").resolve()
    streams = sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []
    if not streams:
        sys.exit(f"no Parquet output under {root}")
    print(f"\nParquet files under {root}:")
    for stream_dir in streams:
        files = sorted(stream_dir.rglob("*.parquet"))
        rows = ds.dataset(stream_dir, format="parquet", partitioning="hive").count_rows()
        print(f"  {stream_dir.name:<10} {rows:>7} rows in {len(files)} file(s)")
    summary = root / "_run_summary.json"
    if summary.exists():
        print(f"run summary: {summary}")


if __name__ == "__main__":
    main()
