"""The table printed at the end of a run: one line per shard, then each failure in full."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from shardrun.jobs import ShardResult


def _records(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "-"
    return str(sum(stream.get("records", 0) for stream in summary.get("streams", {}).values()))


def _failed_partitions(summary: dict[str, Any] | None) -> str:
    if not summary:
        return "-"
    streams = summary.get("streams", {}).values()
    return str(sum(stream.get("partitions_failed", 0) for stream in streams))


def report_lines(results: Sequence[ShardResult], where: str, work_root: Path) -> Iterator[str]:
    ordered = sorted(results, key=lambda result: int(result.shard.split("/")[0]))
    failed = [result for result in ordered if not result.ok]
    yield f"ran {len(ordered)} shard(s) on {where}; {len(failed)} failed; work dir {work_root}"
    header = ("shard", "status", "seconds", "records", "requests", "failed partitions", "ran on")
    rows = [header] + [
        (
            result.shard, result.status, f"{result.duration_s:.1f}", _records(result.summary),
            str((result.summary or {}).get("requests", "-")), _failed_partitions(result.summary),
            result.ran_on or "-",
        )
        for result in ordered
    ]
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    for row in rows:
        yield "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
    for result in failed:
        yield f"--- {result.shard} failed: {result.reason}"
        yield f"    summary: {Path(result.shard_dir) / 'summary.json'}"
        for stream, tally in ((result.summary or {}).get("streams") or {}).items():
            for failure in tally.get("failures", []):
                context = " ".join(f"{k}={v}" for k, v in failure.get("context", {}).items())
                yield (f"    failed partition: stream={stream} {context or '(root)'}: "
                       f"{failure.get('error')}: {failure.get('message')}")
        if (result.summary or {}).get("fatal_error"):
            yield f"    fatal error: {result.summary['fatal_error']}"  # type: ignore[index]
        if result.log_tail and not result.summary:
            yield from (f"    | {line}" for line in result.log_tail.splitlines())
