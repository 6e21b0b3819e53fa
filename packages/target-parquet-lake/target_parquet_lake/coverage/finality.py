"""When is a day final? Declarative rules on the records' own columns.

The loader knows no vendor, so finality is a list of `column=condition` rules, each saying
"a record is NOT final when <column> is <condition>". A rule whose column a lake does not
have is skipped, so one default list serves every vendor the taps know:

* `is_final=false`             VendorX revises a day until D+3 (`is_final` turns true)
* `final=false`                VendorZ, the same with `final`
* `estimated=true`             VendorY restates hours until D+7
* `incomplete=true`            VendorY delivers hours up to 48 h late
* `missing_hours=nonempty`     VendorY names the hours still missing

A null value never matches: a record without the signal counts as final.

The same kind of rule says when a service has ended (`--service-ended-when`, on the
`services` stream): `deleted_at=nonempty` (X), `archived=true` (Y), `archived_at=nonempty`
(Z). An ended service is not expected to keep up when its account's listing fails.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

CONDITIONS = ("true", "false", "nonempty")
DEFAULT_NOT_FINAL_WHEN: tuple[str, ...] = (
    "is_final=false",
    "final=false",
    "estimated=true",
    "incomplete=true",
    "missing_hours=nonempty",
)
DEFAULT_SERVICE_ENDED_WHEN: tuple[str, ...] = (
    "deleted_at=nonempty",
    "archived=true",
    "archived_at=nonempty",
)
# Text an empty list is stored as: arrays land in a string column as JSON.
_EMPTY_TEXTS = ("", "[]", "null")


class RuleError(ValueError):
    """A `--not-final-when` / `--service-ended-when` rule that cannot be understood."""


@dataclass(frozen=True)
class NotFinalRule:
    """A record is not final when `column` meets `condition` (true/false/nonempty)."""

    column: str
    condition: str

    def __str__(self) -> str:
        return f"{self.column}={self.condition}"

    @classmethod
    def parse(cls, text: str, option: str = "--not-final-when") -> NotFinalRule:
        column, sep, condition = text.partition("=")
        column, condition = column.strip(), condition.strip().lower()
        if not sep or not column or condition not in CONDITIONS:
            msg = (
                f"{option} {text!r}: expected COLUMN=CONDITION with CONDITION one of "
                f"{', '.join(CONDITIONS)} (e.g. is_final=false)"
            )
            raise RuleError(msg)
        return cls(column, condition)

    def matches(self, values: pa.Array | pa.ChunkedArray) -> pa.ChunkedArray | pa.Array:
        """Boolean per row: the rule says "not final"; null values never match."""
        if self.condition == "nonempty":
            if pa.types.is_list(values.type) or pa.types.is_large_list(values.type):
                matched = pc.greater(pc.list_value_length(values), 0)
            else:
                text = pc.utf8_trim_whitespace(values.cast(pa.string()))
                # is_in says False for a null, so invert alone would call a null nonempty.
                matched = pc.and_(pc.is_valid(text),
                                  pc.invert(pc.is_in(text, value_set=pa.array(_EMPTY_TEXTS))))
        else:
            flags = _as_bool(values)
            matched = flags if self.condition == "true" else pc.invert(flags)
        return pc.fill_null(matched, False)


def _as_bool(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    if pa.types.is_boolean(values.type):
        return values
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        # A lake written with the flag as text ("true"/"false"); anything else is null.
        lowered = pc.utf8_lower(values)
        return pc.if_else(
            pc.equal(lowered, "true"), True,
            pc.if_else(pc.equal(lowered, "false"), False, pa.scalar(None, pa.bool_())),
        )
    return pc.not_equal(values.cast(pa.float64()), 0)


def parse_rules(
    texts: list[str] | tuple[str, ...], option: str = "--not-final-when",
) -> tuple[NotFinalRule, ...]:
    """Parse `COLUMN=CONDITION` rules; raises RuleError naming the option and the bad one."""
    return tuple(NotFinalRule.parse(text, option) for text in texts)


def not_final(table: pa.Table, rules: tuple[NotFinalRule, ...]) -> pa.ChunkedArray | pa.Array:
    """Per row of `table`: does any rule whose column it has say "not final"?"""
    result: pa.ChunkedArray | pa.Array = pa.array([False] * table.num_rows, pa.bool_())
    for rule in rules:
        if rule.column in table.column_names:
            result = pc.or_(result, rule.matches(table[rule.column]))
    return result
