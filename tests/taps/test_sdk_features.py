"""singer-sdk features through the fan-out engine: BATCH, METRIC lines, ACTIVATE_VERSION.

The tap runs as its console script against the sandbox; a small singer-sdk target
(tests/recording_target.py) loads its output with the SDK's own batch support.
"""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from tests.tap_runner import TapRun, run_tap
from tests.taps.conftest import sandbox_config, tap_config
from vendor_sandbox import run_sandbox, truth_records

ROOT = Path(__file__).resolve().parents[2]
KEYS = {"accounts": ("account_id",), "services": ("account_id", "service_id"),
        "metrics": ("account_id", "service_id", "date")}


def load_into_recording_target(run: TapRun, tmp_path: Path) -> dict[str, list[dict]]:
    out = tmp_path / "loaded"
    out.mkdir()
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"output_dir": str(out), "add_record_metadata": True}))
    loaded = subprocess.run([sys.executable, "-m", "tests.recording_target", "--config",
                             str(config)], input=run.stdout, cwd=ROOT, capture_output=True,
                            text=True, timeout=120, check=False)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    return {path.stem: [json.loads(line) for line in path.read_text().splitlines()]
            for path in out.glob("*.jsonl")}


def keys(rows: list[dict], stream: str) -> list[tuple]:
    return sorted(tuple(str(row[k]) for k in KEYS[stream]) for row in rows)  # dates as text


def batch_rows(message: dict[str, Any]) -> list[dict]:
    rows: list[dict] = []
    for url in message["manifest"]:
        path = Path(url.removeprefix("file://"))
        if message["encoding"]["format"] == "parquet":
            rows += pq.read_table(path).to_pylist()
        else:
            with gzip.open(path, "rt") as lines:
                rows += [json.loads(line) for line in lines]
    return rows


@pytest.fixture
def sandbox_x():
    with run_sandbox(sandbox_config("x")) as running:
        yield running


@pytest.fixture
def records_run(sandbox_x, tmp_path) -> TapRun:
    """The same sync with RECORD messages: what every other way of sending must match."""
    run = run_tap("x", tap_config("x", sandbox_x.url), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    return run


@pytest.mark.parametrize("encoding", ["jsonl", "parquet"])
def test_batch_config_sends_batch_messages_a_target_loads_completely(
        encoding, sandbox_x, records_run, tmp_path):
    batch_config = {"encoding": {"format": encoding, "compression": "gzip"},
                    "storage": {"root": f"file://{tmp_path / 'batches'}"}, "batch_size": 40}
    (tmp_path / "batches").mkdir()
    run = run_tap("x", tap_config("x", sandbox_x.url, batch_config=batch_config), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    batches = [m for m in run.messages if m["type"] == "BATCH"]
    assert not [m for m in run.messages if m["type"] == "RECORD"]
    assert {m["stream"] for m in batches} == {"accounts", "services", "metrics"}
    assert all(m["encoding"]["format"] == encoding for m in batches)
    # batch_size holds: only each stream's last file (or one per STATE) is smaller.
    assert max(len(batch_rows(m)) for m in batches) <= 40
    loaded = load_into_recording_target(run, tmp_path)
    for stream, rows in records_run.records.items():
        assert keys(loaded[stream], stream) == keys(rows, stream), stream
    # singer-sdk's batch_count METRIC, once per stream at the end.
    assert '"metric":"batch_count"' in run.stderr


def test_target_parquet_loads_the_batches_completely(sandbox_x, records_run, tmp_path):
    batch_config = {"encoding": {"format": "jsonl", "compression": "gzip"},
                    "storage": {"root": f"file://{tmp_path / 'batches'}"}, "batch_size": 40}
    (tmp_path / "batches").mkdir()
    run = run_tap("x", tap_config("x", sandbox_x.url, batch_config=batch_config), tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    config = tmp_path / "target-parquet.json"
    config.write_text(json.dumps({"destination_path": str(tmp_path / "lake")}))
    loaded = subprocess.run([str(Path(sys.executable).parent / "target-parquet"), "--config",
                             str(config)], input=run.stdout, capture_output=True, text=True,
                            timeout=120, check=False)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    for stream, rows in records_run.records.items():
        table = pq.ParquetDataset(tmp_path / "lake" / stream).read()
        assert keys(table.to_pylist(), stream) == keys(rows, stream), stream


def test_no_state_covers_a_batch_not_yet_written(sandbox_x, tmp_path):
    # Batches that never fill up and STATE as often as possible: each STATE must first
    # write what is pending, so every bookmarked partition's rows are in a file it follows.
    batch_config = {"encoding": {"format": "jsonl", "compression": "gzip"},
                    "storage": {"root": f"file://{tmp_path / 'batches'}"},
                    "batch_size": 1_000_000}
    (tmp_path / "batches").mkdir()
    config = tap_config("x", sandbox_x.url, batch_config=batch_config, max_concurrency=1,
                        state_interval_seconds=0.001)
    run = run_tap("x", config, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    written: set[tuple] = set()
    states_with_bookmarks = 0
    every_service = {(r["account_id"], r["service_id"])
                     for m in run.messages if m["type"] == "BATCH" and m["stream"] == "metrics"
                     for r in batch_rows(m)}
    for message in run.messages:
        if message["type"] == "BATCH" and message["stream"] == "metrics":
            written |= {(r["account_id"], r["service_id"]) for r in batch_rows(message)}
        elif message["type"] == "STATE":
            partitions = message["value"].get("bookmarks", {}).get("metrics", {})
            bookmarked = {(p["context"]["account_id"], p["context"]["service_id"])
                          for p in partitions.get("partitions", [])}
            states_with_bookmarks += bool(bookmarked)
            assert bookmarked & every_service <= written
    assert states_with_bookmarks > 1  # the check above ran on intermediate states too


def test_metric_lines_in_a_normal_run(records_run):
    points = [json.loads(line.split("METRIC: ", 1)[1]) for line in records_run.stderr.splitlines()
              if "METRIC: " in line]
    counts = {p["tags"]["stream"]: p["value"] for p in points if p["metric"] == "record_count"}
    assert counts == {stream: len(rows) for stream, rows in records_run.records.items()}
    durations = {p["tags"]["stream"]: p for p in points if p["metric"] == "sync_duration"}
    assert set(durations) == {"accounts", "services", "metrics"}
    assert all(p["type"] == "timer" and p["tags"]["status"] == "succeeded"
               for p in durations.values())
    requests = [p for p in points if p["metric"] == "http_request_duration"]
    assert {p["tags"]["stream"] for p in requests} == {"accounts", "services", "metrics"}
    assert all(p["tags"]["http_status_code"] == 200 and p["value"] > 0 for p in requests)
    assert all("account_id" in p["tags"]["context"] for p in requests
               if p["tags"]["stream"] == "metrics")


def test_activate_version_for_full_table_streams(sandbox_x, tmp_path):
    run = run_tap("x", tap_config("x", sandbox_x.url, emit_activate_version_messages=True),
                  tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    activations = [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]
    assert sorted(m["stream"] for m in activations) == ["accounts", "services"]
    for activation in activations:
        stream = activation["stream"]
        positions = [i for i, m in enumerate(run.messages)
                     if m["type"] == "RECORD" and m["stream"] == stream]
        # After the last record of the version it activates; every record carries it.
        assert positions
        assert max(positions) < run.messages.index(activation)
        assert {run.messages[i]["version"] for i in positions} == {activation["version"]}
    assert all("version" not in m for m in run.messages
               if m["type"] == "RECORD" and m["stream"] == "metrics")
    loaded = load_into_recording_target(run, tmp_path)
    applied = {row["stream"]: row["version"] for row in loaded["activate_version"]}
    assert applied == {m["stream"]: m["version"] for m in activations}
    assert {row["_sdc_table_version"] for row in loaded["services"]} == {applied["services"]}


def test_no_activate_version_for_a_stream_with_a_failed_partition(tmp_path):
    probe = sandbox_config("x")
    with run_sandbox(probe) as sandbox:
        accounts = run_tap("x", tap_config("x", sandbox.url), tmp_path).records["accounts"]
        sandbox.update(fail_accounts=frozenset({accounts[0]["account_id"]}))
        run = run_tap("x", tap_config("x", sandbox.url, emit_activate_version_messages=True),
                      tmp_path)
    assert run.returncode == 1  # partial failure
    # The failed account's services were not listed: activating the version would make a
    # target delete them. accounts were listed whole.
    assert [m["stream"] for m in run.messages if m["type"] == "ACTIVATE_VERSION"] == ["accounts"]


@pytest.mark.parametrize("limit", [{"account_ids": ["<one listed account>"]}, {"shard": "1/2"}])
def test_no_activate_version_when_the_run_lists_only_some_accounts(limit, sandbox_x, tmp_path):
    # A target would delete every account (and its services) this run did not list.
    if "account_ids" in limit:
        # An account the vendor lists: one it does not list fails the run (exit 1).
        listed = sorted(r["account_id"] for r in truth_records(sandbox_x.config)
                        if r["type"] == "account")
        limit = {"account_ids": listed[:1]}
    config = tap_config("x", sandbox_x.url, emit_activate_version_messages=True, **limit)
    run = run_tap("x", config, tmp_path)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not [m for m in run.messages if m["type"] == "ACTIVATE_VERSION"]
    setting = next(iter(limit))
    assert f"no ACTIVATE_VERSION in this run: '{setting}' limits it" in run.stderr


def test_activate_version_is_off_by_default(records_run):
    assert not [m for m in records_run.messages if m["type"] == "ACTIVATE_VERSION"]
    assert all("version" not in m for m in records_run.messages if m["type"] == "RECORD")
