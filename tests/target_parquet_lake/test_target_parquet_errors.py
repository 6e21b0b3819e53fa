"""Bad records: the message names stream, key and field; the run fails; flushed data stays."""

from __future__ import annotations

import json

import pytest
from singer_sdk.exceptions import InvalidRecord

GOOD = {"account_id": 7, "service_id": "api", "date": "2026-01-01", "requests": 1, "cost": 0.5}
WHERE = "stream 'metrics' record {account_id=7, service_id=api, date=2026-01-01}"

NESTED_SCHEMA = {
    "type": "object",
    "properties": {
        "account_id": {"type": "integer"},
        "service_id": {"type": "string"},
        "date": {"type": "string", "format": "date"},
        "requests": {"type": "integer"},
        "cost": {"type": ["null", "number"]},
        "usage": {
            "type": ["null", "object"],
            "properties": {
                "cpu": {"type": "number"},
                "at": {"type": "string", "format": "date-time"},
            },
        },
        "status": {"type": "string", "enum": ["ok", "failed"]},
        "share": {"type": ["null", "number"], "minimum": 0},
    },
}

CASES = [
    ({"requests": "abc"}, "field 'requests' expected integer, got 'abc'"),
    ({"requests": None}, "field 'requests' expected integer, got null"),
    ({"requests": 1.5}, "field 'requests' expected integer, got 1.5"),
    ({"requests": True}, "field 'requests' expected integer, got true"),
    ({"cost": "n/a"}, "field 'cost' expected number or null, got 'n/a'"),
    ({"usage": {"cpu": "x"}}, "field 'usage.cpu' expected number, got 'x'"),
    (
        {"usage": {"cpu": 1, "at": "yesterday"}},
        "field 'usage.at' expected date-time (ISO 8601), got 'yesterday'",
    ),
    ({"usage": "busy"}, "field 'usage' expected object or null, got 'busy'"),
    ({"status": "meh"}, "field 'status' expected one of 'ok', 'failed', got 'meh'"),
    ({"share": "-0.5"}, "field 'share' expected a value >= 0, got '-0.5'"),
]


@pytest.mark.parametrize(("change", "problem"), CASES)
def test_bad_record_message_names_stream_key_and_field(tp, change, problem):
    msgs = tp.messages().schema("metrics", NESTED_SCHEMA, tp.metrics_keys)
    with pytest.raises(InvalidRecord) as excinfo:
        tp.run(msgs.record("metrics", {**GOOD, **change}))
    assert str(excinfo.value).endswith(f"{WHERE}: {problem}")


def test_unparseable_date_names_the_record(tp):
    msgs = tp.metrics_messages()
    with pytest.raises(InvalidRecord) as excinfo:
        tp.run(msgs.record("metrics", {**GOOD, "date": "2026-02-30"}))
    assert str(excinfo.value).endswith(
        "stream 'metrics' record {account_id=7, service_id=api, date=2026-02-30}: "
        "field 'date' expected date (YYYY-MM-DD), got '2026-02-30'",
    )


def test_missing_non_nullable_field(tp):
    record = {k: v for k, v in GOOD.items() if k != "requests"}
    msgs = tp.metrics_messages()
    with pytest.raises(InvalidRecord) as excinfo:
        tp.run(msgs.record("metrics", record))
    assert str(excinfo.value).endswith(f"{WHERE}: field 'requests' is not nullable, got missing")


def test_required_field_missing(tp):
    schema = {**tp.metrics_schema, "required": ["requests"]}
    record = {k: v for k, v in GOOD.items() if k != "requests"}
    with pytest.raises(InvalidRecord) as excinfo:
        tp.run(tp.messages().schema("metrics", schema, tp.metrics_keys).record("metrics", record))
    assert str(excinfo.value).endswith(f"{WHERE}: field 'requests' is required but missing")


def test_stream_without_key_properties_uses_record_number(tp):
    rows = [GOOD, GOOD, {**GOOD, "requests": "x"}]
    with pytest.raises(InvalidRecord) as excinfo:
        tp.run(tp.messages().schema("metrics", tp.metrics_schema).records("metrics", rows))
    expected = "stream 'metrics' record #3: field 'requests' expected integer, got 'x'"
    assert str(excinfo.value).endswith(expected)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"requests": "abc"}, "field 'requests' expected integer, got 'abc'"),
        ({"requests": None}, "field 'requests' is not nullable, got null"),
        ({"date": "01/02/2026"}, "field 'date' expected date (YYYY-MM-DD), got '01/02/2026'"),
        ({"cost": "n/a"}, "field 'cost' expected number (or a decimal string), got 'n/a'"),
    ],
)
def test_same_messages_without_jsonschema_validation(tp, change, problem):
    """validate_records=false skips JSON schema validation, not the column checks."""
    record = {**GOOD, **change}
    msgs = tp.metrics_messages()
    with pytest.raises(InvalidRecord) as excinfo:
        tp.run(msgs.record("metrics", record), validate_records=False)
    where = WHERE.replace("2026-01-01", record["date"])
    assert str(excinfo.value).endswith(f"{where}: {problem}")


def test_cli_bad_record_exits_non_zero_and_keeps_flushed_data(tp):
    rows = tp.metrics(4)
    bad = {**rows[0], "service_id": "svc-bad", "requests": "abc"}
    msgs = (
        tp.metrics_messages()
        .records("metrics", rows)  # max_batch_size=2: two flushes on disk
        .state({"bookmarks": {"metrics": "after-4"}})
        .record("metrics", {**rows[0], "service_id": "svc-buffered", "requests": 99})
        .record("metrics", bad)
    )
    result = tp.cli(msgs, max_batch_size=2)

    assert result.returncode != 0
    expected = (
        "stream 'metrics' record {account_id=0, service_id=svc-bad, date=2026-01-01}: "
        "field 'requests' expected integer, got 'abc'"
    )
    assert expected in result.stderr
    # No STATE is acknowledged: the run died before the SDK's final drain.
    assert [json.loads(line) for line in result.stdout.splitlines() if line.strip()] == []
    # The flushed files stay, complete; the record buffered with the bad one is not written.
    assert len(tp.files("metrics")) == 2
    table = tp.read("metrics")
    assert sorted(table.column("requests").to_pylist()) == [0, 1, 2, 3]
