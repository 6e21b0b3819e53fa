"""Records to column lists: per-value checks and conversion, column-wise buffering.

Records are checked and converted as they arrive, so a bad record is reported at
the record itself (naming stream, key and field), and the buffer holds one Python
list per column, from which the flush builds the Arrow table in one call.
"""

from __future__ import annotations

import datetime
import decimal
import typing as t

from singer_sdk.exceptions import InvalidRecord
from singer_sdk.singerlib.json import serialize_json

from target_parquet_lake.schema_to_arrow import Column, Kind

if t.TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from target_parquet_lake.settings import ExtraField

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
_SHOW_MAX = 80


class _Missing:
    """Marks a field absent from the record, as opposed to present and null."""


MISSING = _Missing()


class Mismatch(Exception):
    """A value does not fit its column; carries the expectation for the message.

    `field` and `got` are set when the culprit is not the column's own value (a
    parent of a flattened field that is not an object).
    """

    def __init__(
        self,
        expected: str,
        *,
        field: str | None = None,
        got: object = None,
    ) -> None:
        super().__init__(expected)
        self.expected = expected
        self.field = field
        self.got = got


# -- error messages -----------------------------------------------------------------


def show_value(value: object) -> str:
    """Render an offending value the way the tap sent it (JSON-ish), shortened."""
    if value is None:
        text = "null"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = repr(value)
    elif isinstance(value, decimal.Decimal | int | float):
        text = str(value)
    elif isinstance(value, datetime.date | datetime.time):
        text = repr(value.isoformat())
    elif isinstance(value, dict | list):
        text = serialize_json(value)
    else:
        text = repr(value)
    return text if len(text) <= _SHOW_MAX else text[: _SHOW_MAX - 3] + "..."


def _key_text(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    return str(value)


def describe_record(
    stream_name: str,
    key_properties: Sequence[str],
    record: Mapping[str, t.Any],
    ordinal: int,
) -> str:
    """`stream 'metrics' record {account_id=1, date=2026-01-01}`, or `record #n`."""
    if key_properties:
        keys = ", ".join(f"{key}={_key_text(record.get(key))}" for key in key_properties)
        return f"stream '{stream_name}' record {{{keys}}}"
    return f"stream '{stream_name}' record #{ordinal}"


def record_error(
    stream_name: str,
    key_properties: Sequence[str],
    record: Mapping[str, t.Any],
    *,
    ordinal: int,
    field: str,
    problem: str,
) -> InvalidRecord:
    """The one error type and message format for every bad record.

    InvalidRecord is the SDK's own error for this, so anything that handles SDK
    record errors handles these too.
    """
    where = describe_record(stream_name, key_properties, record, ordinal)
    return InvalidRecord(f"{where}: field '{field}' {problem}", dict(record))


# -- per-kind conversion ---------------------------------------------------------------


def _to_int(value: object) -> int:
    if isinstance(value, bool):
        raise Mismatch("integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, decimal.Decimal | float):
        # JSON's 1.0 is an integer too (JSON Schema says so), and parses as Decimal.
        try:
            number = int(value)
        except (ValueError, OverflowError, decimal.InvalidOperation):
            raise Mismatch("integer") from None
        if number != value:
            raise Mismatch("integer")
    else:
        raise Mismatch("integer")
    if not INT64_MIN <= number <= INT64_MAX:
        raise Mismatch("integer within the int64 range")
    return number


def _to_float(value: object) -> float:
    if isinstance(value, bool):
        raise Mismatch("number")
    if isinstance(value, int | float | decimal.Decimal):
        return float(value)
    if isinstance(value, str):
        # Taps often send decimals as strings to keep their precision.
        try:
            parsed = decimal.Decimal(value)
        except decimal.InvalidOperation:
            raise Mismatch("number (or a decimal string)") from None
        if not parsed.is_finite():
            raise Mismatch("number (or a decimal string)")
        return float(parsed)
    raise Mismatch("number (or a decimal string)")


def _to_bool(value: object) -> bool:
    if isinstance(value, bool):
        return value
    raise Mismatch("boolean")


def _to_date(value: object) -> datetime.date:
    # The SDK has already parsed top-level date fields; nested ones arrive as text.
    if isinstance(value, datetime.datetime):
        raise Mismatch("date (YYYY-MM-DD)")
    if isinstance(value, datetime.date):
        return value
    if isinstance(value, str):
        try:
            return datetime.date.fromisoformat(value)
        except ValueError:
            raise Mismatch("date (YYYY-MM-DD)") from None
    raise Mismatch("date (YYYY-MM-DD)")


def to_utc(moment: datetime.datetime) -> datetime.datetime:
    """Aware UTC datetime; naive values are taken as UTC, the Singer convention."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=datetime.timezone.utc)
    return moment.astimezone(datetime.timezone.utc)


def _to_timestamp(value: object) -> datetime.datetime:
    if isinstance(value, datetime.datetime):
        return to_utc(value)
    if isinstance(value, str):
        try:
            return to_utc(datetime.datetime.fromisoformat(value))
        except ValueError:
            raise Mismatch("date-time (ISO 8601)") from None
    raise Mismatch("date-time (ISO 8601)")


def _to_string(value: object) -> str:
    if isinstance(value, str):
        return value
    # A `format: time` string comes back from the SDK's parsing as a time object.
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    raise Mismatch("string")


def _to_json(value: object) -> str:
    try:
        return serialize_json(value)
    except (TypeError, ValueError) as exc:
        raise Mismatch(f"JSON-serialisable value ({exc})") from None


def _to_any(value: object) -> str:
    return value if isinstance(value, str) else _to_json(value)


CONVERTERS: dict[Kind, Callable[[object], object]] = {
    Kind.INTEGER: _to_int,
    Kind.NUMBER: _to_float,
    Kind.BOOLEAN: _to_bool,
    Kind.DATE: _to_date,
    Kind.TIMESTAMP: _to_timestamp,
    Kind.STRING: _to_string,
    Kind.JSON: _to_json,
    Kind.ANY: _to_any,
}


def _getter(path: tuple[str, ...]) -> Callable[[Mapping[str, t.Any]], object]:
    if len(path) == 1:
        (name,) = path

        def get_top(record: Mapping[str, t.Any]) -> object:
            return record.get(name, MISSING)

        return get_top

    def get_nested(record: Mapping[str, t.Any]) -> object:
        node: object = record
        for depth, step in enumerate(path):
            if node is None:
                return None  # a null parent object nulls all its children
            if not isinstance(node, dict):
                raise Mismatch("object", field=".".join(path[:depth]), got=node)
            node = node.get(step, MISSING)
            if node is MISSING:
                return MISSING
        return node

    return get_nested


# -- buffering ------------------------------------------------------------------------------


class ColumnBuffer:
    """One list per column; records are appended whole or not at all."""

    def __init__(
        self,
        columns: Sequence[Column],
        extra_fields: Sequence[ExtraField],
        describe: Callable[[Mapping[str, t.Any], str, str], InvalidRecord],
    ) -> None:
        """Build the per-column plan once, so appending a record is a tight loop.

        Args:
            columns: The stream's columns (extra fields already removed).
            extra_fields: Constant columns, filled at flush time.
            describe: Builds the error for (record, field, problem).
        """
        self._plan = [(column, _getter(column.path), CONVERTERS[column.kind]) for column in columns]
        self._extra = tuple(extra_fields)
        self._describe = describe
        self._data: list[list[object]] = [[] for _ in self._plan]
        self._rows = 0

    def __len__(self) -> int:
        """Buffered rows."""
        return self._rows

    def append(self, record: Mapping[str, t.Any]) -> None:
        """Check and convert one record's values into the column lists.

        Raises:
            InvalidRecord: naming the stream, the record's key and the field.
        """
        row: list[object] = []
        for column, get, convert in self._plan:
            value: object = MISSING
            try:
                value = get(record)
                if value is MISSING or value is None:
                    if not column.nullable:
                        state = "missing" if value is MISSING else "null"
                        raise self._describe(
                            record,
                            column.display_path,
                            f"is not nullable, got {state}",
                        )
                    row.append(None)
                else:
                    row.append(convert(value))
            except Mismatch as mismatch:
                field = mismatch.field or column.display_path
                got = value if mismatch.field is None else mismatch.got
                raise self._describe(
                    record,
                    field,
                    f"expected {mismatch.expected}, got {show_value(got)}",
                ) from None
        # Only a fully converted record is added: lists never get out of step.
        for values, value in zip(self._data, row, strict=True):
            values.append(value)
        self._rows += 1

    def take(self) -> tuple[dict[str, list[object]], int]:
        """Hand over the buffered columns (extra fields included) and start afresh."""
        rows = self._rows
        names = [column.name for column, _, _ in self._plan]
        data = dict(zip(names, self._data, strict=True))
        for extra in self._extra:
            data[extra.name] = [extra.value] * rows
        self._data = [[] for _ in self._plan]
        self._rows = 0
        return data, rows
