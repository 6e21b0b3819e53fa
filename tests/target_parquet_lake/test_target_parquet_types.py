"""Arrow types come from the JSON schema: mapping, nullability, flattening, values."""

from __future__ import annotations

import datetime
import json

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

UTC = datetime.timezone.utc

TYPED_SCHEMA = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "count": {"type": ["null", "integer"]},
        "ratio": {"type": "number"},
        "price": {"type": ["number", "null"]},
        "mixed_num": {"type": ["integer", "number"]},
        "flag": {"type": "boolean"},
        "day": {"type": "string", "format": "date"},
        "seen_at": {"type": ["null", "string"], "format": "date-time"},
        "any_of_ts": {"anyOf": [{"type": "string", "format": "date-time"}, {"type": "null"}]},
        "name": {"type": "string"},
        "clock": {"type": "string", "format": "time"},
        "usage": {
            "type": "object",
            "properties": {
                "cpu": {"type": "number"},
                "region": {"type": ["null", "string"]},
                "limits": {
                    "type": ["null", "object"],
                    "properties": {"max": {"type": "integer"}},
                },
            },
        },
        "tags": {"type": "array", "items": {"type": "string"}},
        "blob": {"type": ["null", "object"]},
        "anything": {},
        "either": {"type": ["string", "integer"]},
    },
}

EXPECTED_SCHEMA = pa.schema(
    [
        pa.field("id", pa.int64(), nullable=False),
        pa.field("count", pa.int64()),
        pa.field("ratio", pa.float64(), nullable=False),
        pa.field("price", pa.float64()),
        pa.field("mixed_num", pa.float64(), nullable=False),
        pa.field("flag", pa.bool_(), nullable=False),
        pa.field("day", pa.date32(), nullable=False),
        pa.field("seen_at", pa.timestamp("us", tz="UTC")),
        pa.field("any_of_ts", pa.timestamp("us", tz="UTC")),
        pa.field("name", pa.string(), nullable=False),
        pa.field("clock", pa.string(), nullable=False),
        pa.field("usage__cpu", pa.float64(), nullable=False),
        pa.field("usage__region", pa.string()),
        # A child of a nullable object is nullable whatever its own type says.
        pa.field("usage__limits__max", pa.int64()),
        pa.field("tags", pa.string(), nullable=False),
        pa.field("blob", pa.string()),
        pa.field("anything", pa.string()),
        pa.field("either", pa.string(), nullable=False),
    ],
)

ROW_FULL = {
    "id": 1,
    "count": 3,
    "ratio": 0.5,
    "price": "12.50",  # decimal string for a number field
    "mixed_num": 7,
    "flag": True,
    "day": "2026-11-25",
    "seen_at": "2026-11-25T10:15:00+02:00",
    "any_of_ts": "2026-11-25T10:15:00",  # naive: taken as UTC
    "name": "alpha",
    "clock": "10:15:00",
    "usage": {"cpu": 1.25, "region": "eu", "limits": {"max": 9}},
    "tags": ["a", "b"],
    "blob": {"k": [1, 2.5, None]},
    "anything": "plain text",
    "either": 5,
}
ROW_NULLS = {
    "id": 2,
    "count": None,
    "ratio": 1,
    "price": None,
    "mixed_num": 2.5,
    "flag": False,
    "day": "2026-01-01",
    "seen_at": None,
    # any_of_ts missing entirely: nullable, so null
    "name": "",
    "clock": "00:00:00",
    "usage": {"cpu": 0, "limits": None},
    "tags": [],
    "blob": None,
    "anything": {"nested": True},
    "either": "five",
}


def test_types_nullability_and_values(tp):
    msgs = tp.messages().schema("typed", TYPED_SCHEMA, ["id"])
    tp.run(msgs.records("typed", [ROW_FULL, ROW_NULLS]))

    (path,) = tp.files("typed")
    table = tp.without_metadata(pq.read_table(path))
    assert table.schema.equals(EXPECTED_SCHEMA), table.schema
    first, second = table.to_pylist()

    assert first["id"] == 1
    assert first["price"] == 12.5
    assert first["mixed_num"] == 7.0
    assert first["day"] == datetime.date(2026, 11, 25)
    assert first["seen_at"] == datetime.datetime(2026, 11, 25, 8, 15, tzinfo=UTC)
    assert first["any_of_ts"] == datetime.datetime(2026, 11, 25, 10, 15, tzinfo=UTC)
    assert first["clock"] == "10:15:00"
    assert first["usage__cpu"] == 1.25
    assert first["usage__region"] == "eu"
    assert first["usage__limits__max"] == 9
    assert json.loads(first["tags"]) == ["a", "b"]
    assert json.loads(first["blob"]) == {"k": [1, 2.5, None]}
    assert first["anything"] == "plain text"
    assert first["either"] == "5"

    assert second["count"] is None
    assert second["price"] is None
    assert second["ratio"] == 1.0
    assert second["seen_at"] is None
    assert second["any_of_ts"] is None
    assert second["usage__region"] is None
    assert second["usage__limits__max"] is None
    assert second["tags"] == "[]"
    assert second["blob"] is None
    assert json.loads(second["anything"]) == {"nested": True}
    assert second["either"] == "five"

    # DuckDB reads the same types and values.
    rel = duckdb.sql(
        "select id, day, seen_at, usage__cpu, price from read_parquet($files) order by id",
        params={"files": tp.glob("typed")},
    )
    assert str(rel.types[1]) == "DATE"
    assert str(rel.types[2]) == "TIMESTAMP WITH TIME ZONE"
    rows = rel.fetchall()
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [
        (1, datetime.date(2026, 11, 25), 1.25, 12.5),
        (2, datetime.date(2026, 1, 1), 0.0, None),
    ]
    assert rows[0][2].astimezone(UTC) == datetime.datetime(2026, 11, 25, 8, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("level", "columns"),
    [
        (0, ["id", "usage"]),
        (1, ["id", "usage__cpu", "usage__limits"]),
        (2, ["id", "usage__cpu", "usage__limits__max"]),
    ],
)
def test_max_flatten_level(tp, level, columns):
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "usage": {
                "type": "object",
                "properties": {
                    "cpu": {"type": "number"},
                    "limits": {"type": "object", "properties": {"max": {"type": "integer"}}},
                },
            },
        },
    }
    record = {"id": 1, "usage": {"cpu": 2.5, "limits": {"max": 4}}}
    tp.run(tp.messages().schema("s", schema).record("s", record), max_flatten_level=level)

    (path,) = tp.files("s")
    table = tp.without_metadata(pq.read_table(path))
    assert table.column_names == columns
    row = table.to_pylist()[0]
    if level == 0:
        assert json.loads(row["usage"]) == {"cpu": 2.5, "limits": {"max": 4}}
    if level == 1:
        assert json.loads(row["usage__limits"]) == {"max": 4}
        assert table.schema.field("usage__limits").type == pa.string()


def test_schema_is_stable_across_files(tp):
    """Every file of a stream has the schema's types, even an all-null batch."""
    schema = {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "amount": {"type": ["null", "number"]},
            "at": {"type": ["null", "string"], "format": "date-time"},
        },
    }
    rows = [
        {"id": 1, "amount": None, "at": None},
        {"id": 2, "amount": None, "at": None},
        {"id": 3, "amount": 5, "at": "2026-01-01T00:00:00Z"},
        {"id": 4, "amount": 6, "at": None},
    ]
    tp.run(tp.messages().schema("s", schema).records("s", rows), max_batch_size=2)

    paths = tp.files("s")
    assert len(paths) == 2
    schemas = {pq.read_schema(path) for path in paths}
    assert len(schemas) == 1
    assert schemas.pop().field("amount").type == pa.float64()


def test_decimal_numbers_become_float(tp):
    schema = {"type": "object", "properties": {"n": {"type": "number"}, "i": {"type": "integer"}}}
    # 0.1 arrives as Decimal("0.1") from the SDK's JSON parser; "0.30" is a decimal string;
    # 2.0 is an integer by JSON Schema's rules.
    rows = [{"n": 0.1, "i": 1}, {"n": "0.30", "i": 2.0}, {"n": 10, "i": -(2**63)}]
    tp.run(tp.messages().schema("s", schema).records("s", rows))
    table = tp.read("s")
    assert table.column("n").to_pylist() == [0.1, 0.3, 10.0]
    assert table.column("i").to_pylist() == [1, 2, -(2**63)]
