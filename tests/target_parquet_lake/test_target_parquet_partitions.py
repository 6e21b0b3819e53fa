"""partition_cols (hive layout, per-stream applicability) and extra_fields(+types)."""

from __future__ import annotations

import datetime
import logging
from collections import Counter

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

ACCOUNTS_SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
}
SERVICES_SCHEMA = {
    "type": "object",
    "properties": {"service_id": {"type": "string"}, "account_id": {"type": "integer"}},
}


def _notices(caplog, stream):
    return [
        r
        for r in caplog.records
        if f"Stream '{stream}'" in r.getMessage() and "unpartitioned" in r.getMessage()
    ]


def test_partition_cols_where_columns_exist(tp, caplog):
    caplog.set_level(logging.INFO)
    rows = tp.metrics(30)
    msgs = (
        tp.metrics_messages()
        .schema("accounts", ACCOUNTS_SCHEMA, ["id"])
        .schema("services", SERVICES_SCHEMA, ["service_id"])
        .records("metrics", rows)
        .record("accounts", {"id": 1, "name": "one"})
        .record("services", {"service_id": "api", "account_id": 1})
        # A changed schema makes a new sink: the notice is still logged once per stream.
        .schema("accounts", {**ACCOUNTS_SCHEMA, "description": "v2"}, ["id"])
        .record("accounts", {"id": 2, "name": "two"})
    )
    tp.run(msgs, partition_cols="date,account_id", max_batch_size=10)

    # metrics has both columns: hive directories, partition columns kept out of the files.
    metric_files = tp.files("metrics")
    dirs = {p.parent.relative_to(tp.out / "metrics").as_posix() for p in metric_files}
    assert dirs == {f"date=2026-01-0{d}/account_id={a}" for d in (1, 2, 3) for a in range(5)}
    assert "date" not in pq.read_schema(metric_files[0]).names

    got = duckdb.sql(
        "select account_id, date, service_id, requests "
        "from read_parquet($files, hive_partitioning = true)",
        params={"files": tp.glob("metrics")},
    ).fetchall()
    expected = Counter(
        (r["account_id"], datetime.date.fromisoformat(r["date"]), r["service_id"], r["requests"])
        for r in rows
    )
    assert Counter(got) == expected

    dataset = ds.dataset(tp.out / "metrics", format="parquet", partitioning="hive")
    assert dataset.to_table().num_rows == 30

    # accounts has none of them, services only one: both written flat, each noticed once.
    assert [p.parent for p in tp.files("accounts")] == [tp.out / "accounts"] * 2
    assert [p.parent for p in tp.files("services")] == [tp.out / "services"]
    (accounts_notice,) = _notices(caplog, "accounts")
    assert accounts_notice.levelno == logging.INFO
    (services_notice,) = _notices(caplog, "services")
    assert services_notice.levelno == logging.WARNING
    assert "lacks partition column(s) date" in services_notice.getMessage()
    assert _notices(caplog, "metrics") == []


def test_null_and_unsafe_partition_values(tp):
    schema = {
        "type": "object",
        "properties": {"id": {"type": "integer"}, "region": {"type": ["null", "string"]}},
    }
    rows = [
        {"id": 1, "region": "eu/west"},
        {"id": 2, "region": None},
        {"id": 3, "region": "eu/west"},
    ]
    tp.run(tp.messages().schema("s", schema).records("s", rows), partition_cols="region")

    dirs = sorted(p.parent.name for p in tp.files("s"))
    assert dirs == ["region=__HIVE_DEFAULT_PARTITION__", "region=eu%2Fwest"]
    got = duckdb.sql(
        "select id, region from read_parquet($files, hive_partitioning = true) order by id",
        params={"files": tp.glob("s")},
    ).fetchall()
    assert got == [(1, "eu/west"), (2, None), (3, "eu/west")]


def test_extra_fields_and_types(tp):
    tp.run(
        tp.metrics_messages().records("metrics", tp.metrics(4)),
        extra_fields="source=vendorx,batch=42,weight=0.5,live=true,load_date=2026-11-25,note=a=b",
        extra_fields_types="batch=integer,weight=number,live=boolean,load_date=date,source=string",
    )
    (path,) = tp.files("metrics")
    table = pq.read_table(path)
    schema = table.schema
    # The constants follow the stream's columns; the load metadata comes last.
    assert schema.names[-9:-3] == ["source", "batch", "weight", "live", "load_date", "note"]
    assert schema.field("source") == pa.field("source", pa.string(), nullable=False)
    assert schema.field("batch") == pa.field("batch", pa.int64(), nullable=False)
    assert schema.field("weight").type == pa.float64()
    assert schema.field("live").type == pa.bool_()
    assert schema.field("load_date").type == pa.date32()
    assert schema.field("note").type == pa.string()  # no type given: string
    constants = {
        (r["source"], r["batch"], r["weight"], r["live"], r["load_date"], r["note"])
        for r in table.to_pylist()
    }
    assert constants == {("vendorx", 42, 0.5, True, datetime.date(2026, 11, 25), "a=b")}
    assert table.num_rows == 4


def test_extra_field_as_partition_column(tp):
    """A constant column can partition every stream, e.g. by load date."""
    msgs = (
        tp.metrics_messages()
        .schema("accounts", ACCOUNTS_SCHEMA, ["id"])
        .records("metrics", tp.metrics(3))
        .record("accounts", {"id": 1, "name": "one"})
    )
    tp.run(
        msgs,
        extra_fields="load_date=2026-11-25",
        extra_fields_types="load_date=date",
        partition_cols="load_date",
    )
    for stream in ("metrics", "accounts"):
        assert {p.parent.name for p in tp.files(stream)} == {"load_date=2026-11-25"}
    got = duckdb.sql(
        "select count(*), min(load_date) from read_parquet($files, hive_partitioning = true)",
        params={"files": tp.glob("metrics")},
    ).fetchall()
    assert got == [(3, datetime.date(2026, 11, 25))]
