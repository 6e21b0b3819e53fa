"""A response body means what the standard library's `json.loads` makes of it.

The kit parses bodies with msgspec (answer.py), which is stricter and faster; whatever it
refuses goes to `json.loads`, so no body is read differently or refused where it was not.
"""

from __future__ import annotations

import json
import math

import pytest

from singer_fanout.answer import Answer, NestedTooDeeply

BODIES = [
    b'{"data": [{"date": "2026-01-02", "requests": 12, "ratio": 0.9512, "final": true}]}',
    b'{"big": 123456789012345678901234567890, "neg": -99999999999999999999999}',
    b'{"edge": [18446744073709551615, -9223372036854775808, 9223372036854775808]}',
    b'{"huge": 1e400, "tiny": 1e-400, "exp": 1E5, "zero": -0.0}',
    b'{"a": 1, "a": 2}',
    b'\xef\xbb\xbf{"bom": true}',
    '{"utf16": "\u00e9"}'.encode("utf-16"),
    b'{"surrogate": "\\ud800", "escaped": "\\u00e9\\n"}',
    b'  [1, "two", null]  ',
]


@pytest.mark.parametrize("body", BODIES)
def test_a_body_parses_as_json_loads_parses_it(body):
    assert Answer(200, {}, body).json() == json.loads(body)


def test_nan_literals_are_read_as_the_standard_library_reads_them():
    value = Answer(200, {}, b'{"n": NaN, "i": Infinity}').json()
    assert math.isnan(value["n"])
    assert value["i"] == math.inf


@pytest.mark.parametrize("body", [b"", b"{", b"[1,]", b"<html>", b'{"a": 1} trailing'])
def test_what_is_not_json_is_a_value_error(body):
    with pytest.raises(ValueError):  # noqa: PT011 - the rules only ask "is it JSON"
        Answer(200, {}, body).json()


def test_a_hostile_nesting_is_named():
    with pytest.raises(NestedTooDeeply):
        Answer(200, {}, b"[" * 100_000 + b"]" * 100_000).json()
