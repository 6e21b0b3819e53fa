"""What compaction refuses, and how it groups files, on small hand-made lakes."""

from __future__ import annotations

import json

import pyarrow.dataset as ds
import pyarrow.parquet as pq

from tests.lake.compaction_runs import compact, compact_from_env, write_config
from tests.lake.lake_io import run_target


def stream_messages(stream: str, keys: list[str], rows: list[dict], schema: dict) -> list[str]:
    lines = [json.dumps({"type": "SCHEMA", "stream": stream, "schema": schema,
                         "key_properties": keys})]
    lines += [json.dumps({"type": "RECORD", "stream": stream, "record": r}) for r in rows]
    return lines


ACCOUNTS = {"type": "object", "properties": {"id": {"type": "string"},
                                             "plan": {"type": "string"},
                                             "seats": {"type": "integer"}}}
DAILY = {"type": "object", "properties": {"id": {"type": "string"},
                                          "day": {"type": "string", "format": "date"},
                                          "value": {"type": "integer"}}}


def files(lake, stream):
    return sorted(p for p in (lake / stream).rglob("*.parquet"))


def test_stream_without_primary_key_is_refused_and_left_alone(tmp_path):
    lake = tmp_path / "lake"
    for run in range(2):
        run_target({"destination_path": str(lake)},
                   stream_messages("events", [], [{"id": "a", "plan": "x", "seats": run}],
                                   ACCOUNTS))
    before = files(lake, "events")
    config = write_config(tmp_path, {"destination_path": str(lake)})

    result = compact(config, "events")
    assert result.returncode == 2
    assert ("stream 'events' has no primary key (its SCHEMA messages carried no "
            "key_properties)") in result.stderr
    assert files(lake, "events") == before

    # Compacting the whole lake skips it, says so, and succeeds; here the config comes from
    # the environment as Meltano sets it.
    env = {"TARGET_PARQUET_DESTINATION_PATH": str(lake)}
    result = compact_from_env(env)
    assert result.returncode == 0, result.stderr
    assert "skipped: stream 'events' has no primary key" in result.stderr
    assert files(lake, "events") == before


def test_files_without_load_metadata_are_refused(tmp_path):
    lake = tmp_path / "lake"
    for run in range(2):
        run_target({"destination_path": str(lake), "add_record_metadata": False},
                   stream_messages("accounts", ["id"], [{"id": "a", "plan": "x", "seats": run}],
                                   ACCOUNTS))
    config = write_config(tmp_path, {"destination_path": str(lake)})
    result = compact(config, "accounts")
    assert result.returncode == 2
    assert "2 file(s) have no _sdc_sequence column (written with add_record_metadata off)" \
        in result.stderr


def test_key_moving_between_partitions_keeps_only_its_latest_folder(tmp_path):
    """Partitioned by a column outside the key: the whole stream is deduplicated at once."""
    lake = tmp_path / "lake"
    config = {"destination_path": str(lake), "partition_cols": "plan"}
    run_target(config, stream_messages("accounts", ["id"], [
        {"id": "a", "plan": "free", "seats": 1}, {"id": "b", "plan": "free", "seats": 1}],
        ACCOUNTS))
    run_target(config, stream_messages("accounts", ["id"], [
        {"id": "a", "plan": "pro", "seats": 5}], ACCOUNTS))

    result = compact(write_config(tmp_path, config), "accounts")
    assert result.returncode == 0, result.stderr
    table = ds.dataset(lake / "accounts", format="parquet", partitioning="hive").to_table()
    assert sorted(zip(table["id"].to_pylist(), table["plan"].to_pylist(), strict=True)) == [
        ("a", "pro"), ("b", "free")]
    assert [p.parent.name for p in files(lake, "accounts")] == ["plan=free", "plan=pro"]


def test_unpartitioned_stream_is_compacted_into_one_file_per_month(tmp_path):
    lake = tmp_path / "lake"
    days = ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]
    for run in range(3):
        rows = [{"id": "s", "day": d, "value": run * 10 + i} for i, d in enumerate(days)]
        run_target({"destination_path": str(lake)},
                   stream_messages("daily", ["id", "day"], rows, DAILY))

    result = compact(write_config(tmp_path, {"destination_path": str(lake)}), "daily")
    assert result.returncode == 0, result.stderr
    compacted = files(lake, "daily")
    assert [p.name.split("-compacted-")[1][:7] for p in compacted] == ["2026-10", "2026-11"]
    values = [pq.read_table(p).column("value").to_pylist() for p in compacted]
    assert values == [[20, 21], [22, 23]]  # the third run's, sorted by key
