"""RECORD lines from the kit's fast encoder mean what singer-sdk's own encoding means.

The kit encodes records with orjson (writer.py); a target reads them with singer-sdk's parser
(`parse_float=Decimal`). Every value a record can hold must come out as the same JSON value
singer-sdk's `serialize_json` writes: numbers to the digit, NaN as null, datetimes in
ISO form, whatever orjson cannot write falling back to singer-sdk's encoding.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

import pytest
from singer_sdk.singerlib.json import serialize_json

from singer_fanout.writer import encode_record, encode_record_line

STAMP = "2026-11-30T12:00:00.123456+00:00"

VALUES: list[Any] = [
    0, -1, 2**63 - 1, 2**64 + 5, -(2**70),
    0.1, -0.0, 1e16, 1.5e-7, 123456.789, 0.9512, 1e308,
    float("nan"), float("inf"), float("-inf"),
    Decimal("1.50"), Decimal("0.1"), Decimal("12345678901234567890.123456789"),
    Decimal("1E+2"),
    True, False, None,
    "", "plain", "naïve — 日本 \u2028 \"quoted\" back\\slash /", "\x00\x1f",
    dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc),
    dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.timezone(dt.timedelta(hours=-5))),
    dt.datetime(2026, 1, 2, 3, 4, 5),
    dt.date(2026, 1, 2),
    [1, 2.5, "x", None, [Decimal("2.25")]],
    {"nested": {"deep": [0.1, {"n": float("nan")}]}},
    {1: "an integer key"},
]


def parsed(text: str) -> Any:
    return json.loads(text, parse_float=Decimal)


def sdk_line(record: dict[str, Any], version: int | None) -> str:
    message: dict[str, Any] = {"type": "RECORD", "stream": "s", "record": record}
    if version is not None:
        message["version"] = version
    message["time_extracted"] = STAMP
    return serialize_json(message)


@pytest.mark.parametrize("value", VALUES, ids=lambda value: type(value).__name__)
@pytest.mark.parametrize("version", [None, 7])
def test_every_value_means_what_singer_sdk_writes(value, version):
    record = {"field": value, "id": "a1"}
    ours = encode_record("s", record, STAMP, version)
    assert "\n" not in ours
    assert parsed(ours) == parsed(sdk_line(record, version))


def test_a_line_is_utf8_with_one_newline_and_the_key_order_of_singer_sdk():
    line = encode_record_line("metrics", {"b": 1, "a": "é"}, STAMP)
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert line.decode().startswith('{"type":"RECORD","stream":"metrics","record":{"b":1,"a":"é"}')


def test_whole_floats_and_integers_keep_their_kind():
    # A target distinguishes 3 from 3.0 (integer vs number columns): both stay as they are.
    text = encode_record("s", {"i": 3, "f": 3.0}, STAMP)
    assert '"i":3,' in text
    assert '"f":3.0' in text
