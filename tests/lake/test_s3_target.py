"""target-parquet into a real S3 API server (moto's, on loopback).

A load lands complete objects only, readable by pyarrow and DuckDB; a destination the
loader cannot use fails before anything is written, naming destination_path and the
cause, and never as a local folder that merely looks like a URI.
"""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from tests.lake.lake_io import dataset, latest_rows, run_cli, run_target

KEYS = ["account_id", "service_id", "date"]
SCHEMA = {
    "type": "object",
    "properties": {
        "account_id": {"type": "string"},
        "service_id": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "requests": {"type": "integer"},
    },
}


def messages(rows: list[dict]) -> list[str]:
    lines = [json.dumps({"type": "SCHEMA", "stream": "metrics", "schema": SCHEMA,
                         "key_properties": KEYS})]
    lines += [json.dumps({"type": "RECORD", "stream": "metrics", "record": row,
                          "time_extracted": "2026-11-30T08:00:00+00:00"}) for row in rows]
    lines.append(json.dumps({"type": "STATE", "value": {"done": True}}))
    return lines


def rows(count: int, requests_offset: int = 0) -> list[dict]:
    return [
        {"account_id": f"a{i % 3}", "service_id": f"s{i}", "date": f"2026-11-{1 + i % 4:02d}",
         "requests": i + requests_offset}
        for i in range(count)
    ]


def test_load_lands_complete_objects_read_by_pyarrow_and_duckdb(s3):
    bucket = s3.new_bucket()
    config = {"destination_path": f"s3://{bucket}/lake", "partition_cols": "date",
              "max_batch_size": 7}
    run_target(config, messages(rows(20)))
    run_target(config, messages(rows(20, requests_offset=1000)))  # a second run revises all

    # pyarrow keeps an empty `lake/` folder marker where the write check was deleted.
    keys = [k for k in s3.keys(bucket) if not k.endswith("/")]
    assert keys
    assert all(k.startswith("lake/metrics/date=2026-11-") for k in keys), keys
    assert all(k.endswith(".snappy.parquet") for k in keys)  # no temp or probe objects
    assert s3.open_uploads(bucket) == []
    fs = s3.filesystem()
    for key in keys:  # every object is a whole Parquet file carrying the stream's key
        schema = pq.read_schema(f"{bucket}/{key}", filesystem=fs)
        assert json.loads(schema.metadata[b"target_parquet.key_properties"]) == KEYS

    table = dataset(fs, f"{bucket}/lake/metrics").to_table()
    assert table.num_rows == 40
    latest = latest_rows(table, KEYS)
    assert sorted((r["service_id"], r["requests"]) for r in latest) == sorted(
        (f"s{i}", i + 1000) for i in range(20)
    )


def test_missing_bucket_fails_before_reading_input(s3, tmp_path):
    before = s3.client().list_buckets()["Buckets"]
    result = run_cli({"destination_path": "s3://no-such-bucket/lake"}, messages(rows(3)),
                     tmp_path)
    assert result.returncode != 0
    assert "destination_path 's3://no-such-bucket/lake': bucket 'no-such-bucket' does not " \
           "exist" in result.stderr
    assert s3.client().list_buckets()["Buckets"] == before
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]  # nothing local either


def test_wrong_credentials_fail_naming_the_destination_never_the_secret(s3, tmp_path):
    bucket = s3.new_bucket()
    secret = "wrong-secret-8d1f0c27a9"
    result = run_cli({"destination_path": f"s3://{bucket}/lake"}, messages(rows(3)), tmp_path,
                     env={"AWS_ACCESS_KEY_ID": "AKIAWRONGKEY0000", "AWS_SECRET_ACCESS_KEY": secret})
    assert result.returncode != 0
    assert f"destination_path 's3://{bucket}/lake'" in result.stderr
    assert "ACCESS_DENIED" in result.stderr or "InvalidAccessKeyId" in result.stderr
    assert secret not in result.stderr + result.stdout
    assert s3.keys(bucket) == []

    # The same through the sensitive setting instead of the environment.
    options = {"access_key": "AKIAWRONGKEY0000", "secret_key": secret}
    result = run_cli({"destination_path": f"s3://{bucket}/lake", "storage_options": options},
                     messages(rows(3)), tmp_path)
    assert result.returncode != 0
    assert f"destination_path 's3://{bucket}/lake'" in result.stderr
    assert secret not in result.stderr + result.stdout
    assert s3.keys(bucket) == []


def test_storage_options_reach_the_store_without_the_environment(s3, tmp_path, monkeypatch):
    bucket = s3.new_bucket()
    options = {"access_key": s3.access_key, "secret_key": s3.secret_key,
               "endpoint_override": s3.endpoint, "region": "us-east-1"}
    env = dict.fromkeys(("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"), "")
    result = run_cli({"destination_path": f"s3://{bucket}/lake", "storage_options": options},
                     messages(rows(5)), tmp_path, env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(s3.keys(bucket, "lake/metrics/")) == 1
    assert s3.secret_key not in result.stderr + result.stdout


def test_unknown_storage_option_is_a_config_error(s3, tmp_path):
    bucket = s3.new_bucket()
    result = run_cli({"destination_path": f"s3://{bucket}/lake",
                      "storage_options": {"secret_kee": "x"}}, messages(rows(1)), tmp_path)
    assert result.returncode != 0
    assert ("storage_options has an option pyarrow's S3FileSystem does not take (__init__() got "
            "an unexpected keyword argument 'secret_kee')") in result.stderr


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("hdfs://namenode/lake", "unsupported scheme 'hdfs'"),
        ("ftp://host/lake", "unsupported scheme 'ftp'"),
        ("s3:/bucket/lake", "write s3://..."),
        ("s3:bucket", "write s3://..."),
    ],
)
def test_unsupported_or_malformed_uri_is_refused_not_a_local_folder(tmp_path, destination,
                                                                    message):
    result = run_cli({"destination_path": destination}, messages(rows(2)), tmp_path)
    assert result.returncode != 0
    assert f"destination_path '{destination}'" in result.stderr
    assert message in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_file_uri_is_a_local_folder(tmp_path):
    run_target({"destination_path": f"file://{tmp_path}/lake"}, messages(rows(3)))
    assert len(list((tmp_path / "lake" / "metrics").glob("*.parquet"))) == 1
