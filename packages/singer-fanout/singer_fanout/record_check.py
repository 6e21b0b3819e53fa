"""A fast check of every record against its stream's JSON schema, before anything is emitted.

singer-sdk passes a value of the wrong type straight through to the target (or fails far from
the cause), so a vendor that starts sending `"requests": "1234"` would corrupt the warehouse
or break the loader. Here each record's top-level fields are checked where the partition is
fetched: a mismatch fails that partition (nothing of it is emitted, its bookmark stays), and
the error names the field, the type the schema expects, the value that came, and the
partition's ids.

What is checked, per field the schema declares: the JSON type (integer, number, string,
boolean, null, array, object), `format: date` / `date-time` parseability, and `required`.
Fields the schema does not declare are left alone: singer-sdk drops them with a warning.
Nested items are not checked: the vendors' records are flat.

The checker is compiled once per stream (exact-type set lookups, no per-record schema
walk), because this runs on every record of the run.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from singer_sdk.streams import Stream

from singer_fanout.errors import PartitionError

# Exact Python types a JSON type admits. `bool` is deliberately not an integer here.
_EXACT_TYPES: dict[str, frozenset[type]] = {
    "string": frozenset({str}),
    "integer": frozenset({int}),
    "number": frozenset({int, float, Decimal}),
    "boolean": frozenset({bool}),
    "null": frozenset({type(None)}),
    "array": frozenset({list, tuple}),
    "object": frozenset({dict}),
}
# Longest rendering of an offending value in an error (a huge field must not flood the log).
MAX_VALUE_TEXT = 80
# Where a compiled check is kept on the stream: built by the first partition, then reused.
_ATTRIBUTE = "_tapkit_record_check"
_COMPILE_LOCK = threading.Lock()


def _parse_date(text: str) -> object:
    return dt.date.fromisoformat(text)


def _parse_date_time(text: str) -> object:
    # Python 3.10 does not read a trailing Z (UTC), which is how both vendors write it.
    return dt.datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)


_FORMATS: dict[str, Callable[[str], object]] = {
    "date": _parse_date,
    "date-time": _parse_date_time,
}


@dataclass(frozen=True)
class FieldRule:
    name: str
    kinds: tuple[str, ...]  # JSON type names, for messages and the slow path
    exact: frozenset[type]  # the fast path: `type(value) in exact`
    parse: Callable[[str], object] | None  # format check for string values
    format: str | None
    # Types that need no further look (no format to parse, no NaN to rule out): the common
    # case costs one set lookup.
    settled: frozenset[type]

    def problem(self, value: Any) -> str | None:
        """What is wrong with `value` for this field, or None."""
        kind = type(value)
        if kind not in self.exact and not _matches_slowly(value, self.kinds):
            return (f"field '{self.name}' should be {' or '.join(self.kinds)}, got "
                    f"{kind.__name__} {_shorten(value)}")
        if (kind is float and not math.isfinite(value)) or (
            kind is Decimal and not value.is_finite()
        ):
            # JSON has no NaN or infinity: the target could not read the record.
            return f"field '{self.name}' should be a finite number, got {_shorten(value)}"
        if self.parse is not None and kind is str:
            try:
                self.parse(value)
            except ValueError:
                return (f"field '{self.name}' should be a {self.format} string, got "
                        f"{_shorten(value)}")
        return None


class RecordCheck:
    """The compiled check of one stream's records."""

    def __init__(self, stream_name: str, schema: Mapping[str, Any],
                 key_fields: tuple[str, ...] = ()) -> None:
        self.stream_name = stream_name
        properties = schema.get("properties") or {}
        self.rules: dict[str, FieldRule] = {
            name: rule for name, spec in properties.items()
            if (rule := _compile_field(name, spec)) is not None
        }
        self.required: tuple[str, ...] = tuple(schema.get("required") or ())
        self.key_fields = key_fields

    def problem(self, record: Mapping[str, Any], given: Collection[str] = ()) -> str | None:
        """What is wrong with `record`, or None when it conforms.

        `given`: fields the engine fills in from the partition's context after the check.
        """
        for name in self.required:
            if name not in record and name not in given:
                return f"required field '{name}' is missing"
        rules = self.rules
        for name, value in record.items():
            rule = rules.get(name)
            if rule is None or type(value) in rule.settled:
                continue
            problem = rule.problem(value)
            if problem is not None:
                return problem
        return None

    def check(self, records: list[dict[str, Any]], where: str | Callable[[], str],
              given: Collection[str] = ()) -> None:
        """Raise PartitionError for the first record that does not conform.

        `where` names the partition; a callable is asked only when a record fails.
        """
        for record in records:
            problem = self.problem(record, given)
            if problem is not None:
                place = where if isinstance(where, str) else where()
                keys = " ".join(
                    f"{name}={str(record[name])[:MAX_VALUE_TEXT]}" for name in self.key_fields
                    if name in record and f"{name}=" not in place
                )
                detail = f"record {keys}: {problem}" if keys else f"a record: {problem}"
                raise PartitionError(place, detail)


def check_records(
    stream: Stream, context: Mapping[str, Any] | None, records: list[dict[str, Any]]
) -> None:
    """Check a fetched partition's records; PartitionError names the first bad field."""
    checker = _checker_of(stream)
    if checker.rules or checker.required:

        def where() -> str:  # put together only for an error: this runs on every step
            ids = " ".join(f"{key}={value}" for key, value in (context or {}).items())
            return f"{stream.tap_name} stream '{stream.name}' {ids}".rstrip()

        checker.check(records, where, given=tuple(context or ()))


def _checker_of(stream: Stream) -> RecordCheck:
    checker: RecordCheck | None = stream.__dict__.get(_ATTRIBUTE)
    if checker is None:
        with _COMPILE_LOCK:  # workers may start the same stream's first partitions at once
            checker = stream.__dict__.get(_ATTRIBUTE)
            if checker is None:
                checker = RecordCheck(stream.name, stream.schema, tuple(stream.primary_keys or ()))
                stream.__dict__[_ATTRIBUTE] = checker
    return checker


def _compile_field(name: str, spec: Mapping[str, Any]) -> FieldRule | None:
    declared = spec.get("type")
    if declared is None:
        return None  # no type declared (anyOf, $ref, ...): nothing to check at this level
    kinds = (declared,) if isinstance(declared, str) else tuple(declared)
    exact: frozenset[type] = frozenset()
    for kind in kinds:
        exact |= _EXACT_TYPES.get(kind, frozenset())
    fmt = spec.get("format")
    parse = _FORMATS.get(fmt) if fmt else None
    unsettled = {float, Decimal} | ({str} if parse else set())
    return FieldRule(name, kinds, exact, parse, fmt, exact - unsettled)


def _matches_slowly(value: Any, kinds: tuple[str, ...]) -> bool:
    """The cases exact types miss: whole floats are JSON integers, subclasses of str/dict."""
    if isinstance(value, bool):
        return "boolean" in kinds
    if "integer" in kinds and isinstance(value, (float, Decimal)):
        return math.isfinite(value) and value == int(value)
    return any(isinstance(value, tuple(_EXACT_TYPES.get(kind, ()))) for kind in kinds)


def _shorten(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= MAX_VALUE_TEXT else text[: MAX_VALUE_TEXT - 3] + "..."
