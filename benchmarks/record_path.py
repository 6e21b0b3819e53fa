"""Record path: records/s through the kit's emission vs a plain singer-sdk stream.

Both variants run the same tap's `metrics` stream (same schema) over the same synthetic
records in a child process, writing Singer messages into a pipe this script drains and
counts. No HTTP: only the path from a fetched record to a line on stdout is measured.

    python benchmarks/record_path.py [--records 200000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from typing import Any

from singer_sdk.singerlib.encoding import SimpleSingerWriter
from singer_sdk.singerlib.json import serialize_json

from singer_fanout import writer
from singer_fanout.engine import FanOutEngine, Partition
from singer_fanout.outputs import StreamOutputs
from singer_fanout.state import StateEmitter
from singer_fanout.steps import WholePartitionPlan
from singer_fanout.summary import RunSummary
from tap_vendorx.tap import TapVendorX

CONTEXT = {"account_id": "acc_0001", "service_id": "svc_1"}
LABELS = {"sdk": "plain singer-sdk stream",
          "kit-stdlib": "singer_fanout, RECORD lines by stdlib json",
          "kit": "singer_fanout (RECORD lines by orjson)"}


def synthetic_rows(count: int) -> list[dict[str, Any]]:
    first = dt.date(2020, 1, 1)
    return [
        {
            "date": (first + dt.timedelta(days=n % 3000)).isoformat(),
            "requests": 1000 + n, "bandwidth_bytes": 10_000_000 + n, "errors_5xx": n % 7,
            "cache_hit_ratio": 0.9512, "p95_latency_ms": 48.5, "is_final": True,
            "updated_at": "2025-01-02T03:04:05Z", **CONTEXT,
        }
        for n in range(count)
    ]


class PlainSdkTap(TapVendorX):
    message_writer_class = SimpleSingerWriter  # singer-sdk's default writer


def make_tap(plain: bool) -> Any:
    tap_class = PlainSdkTap if plain else TapVendorX
    return tap_class(config={"api_token": "bench-token-000000", "api_url": "http://127.0.0.1:9",
                             "start_date": "2019-01-01"}, validate_config=True)


def stdlib_record_line(stream: str, record: dict[str, Any], time_extracted: str,
                       version: int | None = None) -> bytes:
    """RECORD lines as the kit encoded them before orjson (issue 13): the standard library's
    C encoder, singer-sdk's encoding for what it cannot write."""
    message: dict[str, Any] = {"type": "RECORD", "stream": stream, "record": record}
    if version is not None:
        message["version"] = version
    message["time_extracted"] = time_extracted
    try:
        text = json.dumps(message, default=writer._plain, separators=(",", ":"),
                          allow_nan=False)
    except (writer._NotPlainJson, ValueError):
        text = serialize_json(message)
    return (text + "\n").encode()


def child(variant: str, count: int) -> None:
    if variant == "kit-stdlib":
        writer.encode_record_line = stdlib_record_line
    rows = synthetic_rows(count)
    tap = make_tap(plain=variant == "sdk")
    metrics = tap.streams["metrics"]
    metrics.get_records = lambda context: iter(rows)
    started = time.perf_counter()
    if variant == "sdk":
        metrics.sync(context=dict(CONTEXT))
    else:
        engine = FanOutEngine(
            emitter=StateEmitter(tap._write_state, tap.state_book.state, every_s=10,
                                 every_records=50_000),
            summary=RunSummary(tap.name, tap.counters),
            max_concurrency=1,
            plan_for=lambda partition: WholePartitionPlan(partition.stream, partition.context),
            interrupted=lambda: None,
            outputs=StreamOutputs(tap.name, [metrics], tap.config),
        )
        engine.run_partitions([Partition(metrics, dict(CONTEXT), 0)])
    sys.stdout.flush()
    print(f"{time.perf_counter() - started:.6f}", file=sys.stderr)


def measure(variant: str, count: int) -> tuple[float, int]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--child", variant, "--records", str(count)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    records = 0
    tail = b""
    while chunk := process.stdout.read(1 << 20):
        lines = (tail + chunk).split(b"\n")
        tail = lines.pop()  # an unfinished line waits for the next chunk
        records += sum(1 for line in lines if line.startswith(b'{"type":"RECORD"'))
    seconds = float(process.stderr.read().decode().strip().splitlines()[-1])
    process.wait()
    return seconds, records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--child", choices=["sdk", "kit", "kit-stdlib"])
    args = parser.parse_args()
    if args.child:
        child(args.child, args.records)
        return
    results = {variant: measure(variant, args.records) for variant in LABELS}
    print(f"record path, {args.records:,} records of the metrics stream")
    print(f"{'variant':<44}{'seconds':>10}{'records/s':>14}{'µs/record':>11}")
    for variant, (seconds, records) in results.items():
        assert records == args.records, f"{variant} wrote {records} records"
        print(f"{LABELS[variant]:<44}{seconds:>10.2f}{records / seconds:>14,.0f}"
              f"{seconds / records * 1e6:>11.2f}")
    ratio = results["sdk"][0] / results["kit"][0]
    print(f"speedup: {ratio:.2f}x (goal >= 1.5x)")


if __name__ == "__main__":
    main()
