"""Print where a run's Parquet files are, what they hold, and what to do next.

    python scripts/show_output.py output/vendorx [--job tap-vendorx-to-target-parquet]

Rows and distinct keys differ on purpose: every run loads the account and service lists again
and re-emits the days the vendor has not marked final yet (it may still revise them), so the
rows of a stream grow with every run while its distinct keys (`account_id`, `service_id`,
`date`) are what the lake actually holds.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import pyarrow.dataset as ds

# The hierarchy keys every tap's records carry under these names (VENDOR_CONTRACTS.md).
HIERARCHY_KEYS = ("account_id", "service_id", "date")


def stream_counts(stream_dir: Path) -> tuple[int, int, int, list[str]]:
    """(rows, distinct keys, files, key columns) of one stream's Parquet files."""
    files = sorted(stream_dir.rglob("*.parquet"))
    dataset = ds.dataset(stream_dir, format="parquet", partitioning="hive")
    keys = [name for name in HIERARCHY_KEYS if name in dataset.schema.names]
    table = dataset.to_table(columns=keys)
    distinct = table.group_by(keys).aggregate([]).num_rows if keys else table.num_rows
    return table.num_rows, distinct, len(files), keys


def _as_typed(path: Path) -> str:
    """A path as the reader would type it from here: relative when it is under the cwd."""
    here = Path.cwd()
    return str(path.relative_to(here)) if path.is_relative_to(here) else str(path)


def latest_query(root: Path) -> str:
    """A one-line shell command printing the latest row of a few metrics keys."""
    # The path is the caller's own output folder, printed for them to run: no injection.
    sql = (
        "SELECT * EXCLUDE (_sdc_extracted_at, _sdc_batched_at, _sdc_sequence) "  # noqa: S608
        f"FROM read_parquet('{_as_typed(root)}/metrics/**/*.parquet', "
        "hive_partitioning = true, union_by_name = true) QUALIFY row_number() OVER "
        "(PARTITION BY account_id, service_id, date ORDER BY _sdc_sequence DESC) = 1 "
        "ORDER BY date DESC LIMIT 5"
    )
    program = f"import duckdb; duckdb.sql({sql!r}).show()"
    python = _as_typed(Path(sys.executable).absolute())
    return f"{shlex.quote(python)} -c {shlex.quote(program)}"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("root", nargs="?", default="output")
    parser.add_argument("--job", help="the Meltano state id of the run, to show its state")
    args = parser.parse_args(argv)
    root = Path(args.root).resolve()
    streams = sorted(p for p in root.iterdir() if p.is_dir()) if root.exists() else []
    if not streams:
        sys.exit(f"no Parquet output under {root}")
    print(f"\nParquet files under {root}:")
    print(f"  {'stream':<10} {'rows':>7} {'distinct keys':>14}  {'files':>5}  keys")
    for stream_dir in streams:
        rows, distinct, files, keys = stream_counts(stream_dir)
        print(f"  {stream_dir.name:<10} {rows:>7} {distinct:>14}  {files:>5}  "
              f"{', '.join(keys) or '-'}")
    print("  rows: every row loaded, all runs together. Each run loads the account and service\n"
          "  lists again and re-emits the days the vendor has not marked final yet (it may still\n"
          "  revise them), so rows grow from run to run.\n"
          "  distinct keys: what the lake holds; query the latest row per key (below).")
    summary = root / "_run_summary.json"
    if summary.exists():
        print(f"run summary: {summary}")
    print("\nWhat next:")
    print("  - Query it, latest value per key (more in README.md, 'Querying the Parquet "
          "output'):")
    print(f"      {latest_query(root)}")
    print("  - Run again: incremental, only the days since each service's bookmark (plus the\n"
          "    days not final yet) are read, and nothing already installed is installed again:")
    print("      python3 scripts/dev.py demo")
    if args.job:
        print(f"    The bookmarks it starts from: .venv/bin/meltano state get dev:{args.job}")


if __name__ == "__main__":
    main()
