"""The lake: load speed into local disk vs a loopback S3 server, and what compaction buys.

1. The same Singer input (synthetic VendorX `metrics`, partitioned by `date`) is loaded by
   the real `target-parquet` console script into a local folder and into `s3://` on moto's
   S3 server on loopback, alternating, `--repeat` times each: rows/s, and S3 / local.
2. Ten daily incremental runs (the first loads `--history` days, each later one a new day
   plus the 3 lookback days again) into a local folder and into S3; files and bytes before
   and after `target-parquet-compact`, and compaction seconds per million rows read.

    python benchmarks/lake.py [--rows 100000] [--services 2000] [--history 30] [--repeat 2]

The S3 server is moto (Python, signature checks off) on the same 2 cores as the loader, so
S3 figures include the server's own CPU; a real bucket costs network time instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyarrow.fs as pafs

from tests.lake.s3_server import S3Server, run_s3_server

BIN = Path(sys.executable).parent
SCHEMA = {
    "type": "object",
    "properties": {
        "account_id": {"type": "string"}, "service_id": {"type": "string"},
        "date": {"type": "string", "format": "date"}, "requests": {"type": "integer"},
        "bandwidth_bytes": {"type": "integer"}, "errors_5xx": {"type": "integer"},
        "cache_hit_ratio": {"type": "number"}, "p95_latency_ms": {"type": "number"},
        "is_final": {"type": "boolean"}, "updated_at": {"type": "string", "format": "date-time"},
    },
}
KEYS = ["account_id", "service_id", "date"]
FIRST_DAY = dt.date(2026, 1, 1)
LOOKBACK = 3


def record_lines(services: int, days: list[dt.date], revision: int) -> Iterator[str]:
    extracted = "2026-11-30T08:00:00+00:00"
    for day in days:
        for n in range(services):
            record = {
                "account_id": f"acc_{n // 10:04d}", "service_id": f"svc_{n}",
                "date": day.isoformat(), "requests": 1000 + n + revision,
                "bandwidth_bytes": 10_000_000 + n, "errors_5xx": n % 7,
                "cache_hit_ratio": 0.9512, "p95_latency_ms": 48.5, "is_final": revision > 3,
                "updated_at": f"{day.isoformat()}T03:04:05Z",
            }
            yield json.dumps({"type": "RECORD", "stream": "metrics", "record": record,
                              "time_extracted": extracted})


def write_input(path: Path, services: int, days: list[dt.date], revision: int) -> int:
    rows = 0
    with path.open("w") as out:
        out.write(json.dumps({"type": "SCHEMA", "stream": "metrics", "schema": SCHEMA,
                              "key_properties": KEYS}) + "\n")
        for line in record_lines(services, days, revision):
            out.write(line + "\n")
            rows += 1
        out.write(json.dumps({"type": "STATE", "value": {"revision": revision}}) + "\n")
    return rows


def run_script(script: str, config: dict[str, Any], workdir: Path, env: dict[str, str], *,
               stdin: Path | None = None, args: tuple[str, ...] = ()) -> float:
    cfg = workdir / f"{script}.json"
    cfg.write_text(json.dumps(config))
    started = time.perf_counter()
    with (stdin.open() if stdin else open(os.devnull)) as source:
        done = subprocess.run([str(BIN / script), "--config", str(cfg), *args], stdin=source,
                              capture_output=True, text=True, env=env, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{script} failed:\n{done.stderr[-3000:]}")
    return seconds


def load_speed(server: S3Server, workdir: Path, rows: int, repeat: int) -> dict[str, Any]:
    services = 2000
    days = [FIRST_DAY + dt.timedelta(days=d) for d in range(max(1, rows // services))]
    source = workdir / "input.jsonl"
    count = write_input(source, services, days, revision=0)
    env = {**os.environ, **server.env}
    times: dict[str, list[float]] = {"local": [], "s3": []}
    for attempt in range(repeat):
        for where in ("local", "s3"):
            if where == "local":
                destination = str(workdir / f"speed-{attempt}")
            else:
                destination = f"s3://{server.new_bucket()}/lake"
            config = {"destination_path": destination, "partition_cols": "date"}
            times[where].append(run_script("target-parquet", config, workdir, env, stdin=source))
    local, s3 = statistics.median(times["local"]), statistics.median(times["s3"])
    return {"rows": count, "local_s": local, "s3_s": s3, "local_rows_s": count / local,
            "s3_rows_s": count / s3, "ratio": local / s3}


def ten_runs(destination: str, workdir: Path, env: dict[str, str], services: int,
             history: int) -> int:
    rows = 0
    config = {"destination_path": destination, "partition_cols": "date"}
    for run in range(10):
        last = FIRST_DAY + dt.timedelta(days=history - 1 + run)
        first = FIRST_DAY if run == 0 else last - dt.timedelta(days=LOOKBACK)
        days = [first + dt.timedelta(days=d) for d in range((last - first).days + 1)]
        source = workdir / f"run-{run}.jsonl"
        rows += write_input(source, services, days, revision=run)
        run_script("target-parquet", config, workdir, env, stdin=source)
    return rows


def lake_size(filesystem: pafs.FileSystem, root: str) -> tuple[int, int]:
    infos = filesystem.get_file_info(pafs.FileSelector(root, recursive=True))
    files = [i for i in infos if i.type == pafs.FileType.File and i.path.endswith(".parquet")]
    return len(files), sum(i.size or 0 for i in files)


def compaction(server: S3Server, workdir: Path, services: int, history: int,
               ) -> list[dict[str, Any]]:
    env = {**os.environ, **server.env}
    results = []
    bucket = server.new_bucket()
    for where, destination, filesystem, root in (
        ("local", str(workdir / "ten"), pafs.LocalFileSystem(), str(workdir / "ten")),
        ("s3", f"s3://{bucket}/lake", server.filesystem(), f"{bucket}/lake"),
    ):
        rows = ten_runs(destination, workdir, env, services, history)
        files_before, bytes_before = lake_size(filesystem, root)
        seconds = run_script("target-parquet-compact", {"destination_path": destination},
                             workdir, env, args=("metrics",))
        files_after, bytes_after = lake_size(filesystem, root)
        results.append({"where": where, "rows": rows, "files_before": files_before,
                        "bytes_before": bytes_before, "files_after": files_after,
                        "bytes_after": bytes_after, "seconds": seconds,
                        "s_per_million": seconds / rows * 1e6})
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--services", type=int, default=2000)
    parser.add_argument("--history", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="lake-bench-"))
    try:
        with run_s3_server(workdir / "moto.log", enforce_auth=False) as server:
            speed = load_speed(server, workdir, args.rows, args.repeat)
            print(f"load {speed['rows']:,} rows (median of {args.repeat}):")
            for where, label in (("local", "local disk "), ("s3", "loopback S3")):
                print(f"  {label}  {speed[f'{where}_s']:7.2f} s  "
                      f"{speed[f'{where}_rows_s']:10,.0f} rows/s")
            print(f"  S3 / local   {speed['ratio']:.2f}x (goal >= 0.8x)")
            for result in compaction(server, workdir, args.services, args.history):
                print(f"ten runs into {result['where']}: {result['rows']:,} rows loaded")
                print(f"  before compaction {result['files_before']:6,} files "
                      f"{result['bytes_before']:13,} bytes")
                print(f"  after compaction  {result['files_after']:6,} files "
                      f"{result['bytes_after']:13,} bytes")
                print(f"  compaction {result['seconds']:.2f} s, "
                      f"{result['s_per_million']:.2f} s per million rows read")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
