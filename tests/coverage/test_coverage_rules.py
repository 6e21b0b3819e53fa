"""The finality / ended rules on the column types a lake holds (no I/O: pure Arrow)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from target_parquet_lake.coverage.finality import NotFinalRule, RuleError, not_final


@pytest.mark.parametrize(("values", "expected"), [
    (pa.array(['[1764460800]', "[]", "", " ", None, "null"]),
     [True, False, False, False, False, False]),
    (pa.array([[1], [], None], pa.list_(pa.int64())), [True, False, False]),
    (pa.array([dt.datetime(2026, 11, 13, 7, 15, tzinfo=dt.timezone.utc), None],
              pa.timestamp("us", tz="UTC")), [True, False]),
])
def test_nonempty_never_matches_a_null(values, expected):
    assert NotFinalRule.parse("c=nonempty").matches(values).to_pylist() == expected


@pytest.mark.parametrize(("values", "expected_false", "expected_true"), [
    (pa.array([True, False, None]), [False, True, False], [True, False, False]),
    (pa.array(["true", "FALSE", "maybe", None]), [False, True, False, False],
     [True, False, False, False]),
    (pa.array([1, 0, None], pa.int8()), [False, True, False], [True, False, False]),
])
def test_true_and_false_on_bools_text_and_numbers(values, expected_false, expected_true):
    assert NotFinalRule.parse("c=false").matches(values).to_pylist() == expected_false
    assert NotFinalRule.parse("c=TRUE").matches(values).to_pylist() == expected_true


def test_rules_on_absent_columns_are_skipped_and_any_rule_decides():
    table = pa.table({"estimated": [True, False, False], "incomplete": [False, False, True]})
    rules = tuple(NotFinalRule.parse(r) for r in ("is_final=false", "estimated=true",
                                                  "incomplete=true"))
    assert not_final(table, rules).to_pylist() == [True, False, True]


@pytest.mark.parametrize("text", ["is_final", "=false", "is_final=maybe"])
def test_a_bad_rule_names_the_option(text):
    with pytest.raises(RuleError, match=f"--service-ended-when {text!r}: expected COLUMN="):
        NotFinalRule.parse(text, "--service-ended-when")
