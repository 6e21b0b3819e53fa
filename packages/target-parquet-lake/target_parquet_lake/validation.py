"""Record validation that names the stream, the record's key and the field.

The SDK validates each record against its JSON schema before our sink sees it, but
its error ("'abc' is not of type 'integer'") says neither which stream nor which
record. This validator plugs into the SDK's own hook (`Sink.get_validator`), so the
SDK still runs it at the same point and fails the run the same way, with a message
like::

    stream 'metrics' record {account_id=7, date=2026-01-01}: field 'requests'
    expected integer, got 'abc'

It also checks `date`/`date-time`/`time` strings with the same parser the SDK uses
right after validation, so an unparseable date is reported here, with context,
rather than by the SDK's parser without it.
"""

from __future__ import annotations

import datetime
import decimal
import numbers
import typing as t

import jsonschema
from jsonschema import validators
from jsonschema.exceptions import best_match
from singer_sdk.exceptions import InvalidJSONSchema
from singer_sdk.sinks.core import BaseJSONSchemaValidator
from singer_sdk.typing import DEFAULT_JSONSCHEMA_VALIDATOR

from target_parquet_lake.records import record_error, show_value

if t.TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from jsonschema.exceptions import ValidationError
    from singer_sdk.exceptions import InvalidRecord

# The parsers the SDK applies to date-like fields after validation (on Python 3.10
# the SDK patches these with the backports so they accept the same ISO 8601 forms).
DATELIKE_PARSERS: dict[str, t.Callable[[str], object]] = {
    "date": datetime.date.fromisoformat,
    "date-time": datetime.datetime.fromisoformat,
    "time": datetime.time.fromisoformat,
}
_COMPARISONS = {
    "minimum": ">=",
    "maximum": "<=",
    "exclusiveMinimum": ">",
    "exclusiveMaximum": "<",
}
FORMAT_TEXT = {
    "date": "date (YYYY-MM-DD)",
    "date-time": "date-time (ISO 8601)",
    "time": "time (HH:MM:SS)",
}


def _is_decimal_string(text: str) -> bool:
    try:
        return decimal.Decimal(text).is_finite()
    except decimal.InvalidOperation:
        return False


def _is_number(_checker: object, instance: object) -> bool:
    # Decimal strings are accepted for `number` fields: taps send them to keep
    # precision, and the sink converts them to float64.
    if isinstance(instance, bool):
        return False
    if isinstance(instance, numbers.Number):
        return True
    return isinstance(instance, str) and _is_decimal_string(instance)


def _is_integer(_checker: object, instance: object) -> bool:
    # JSON Schema counts 1.0 as an integer; the SDK parses it as Decimal("1.0").
    if isinstance(instance, bool):
        return False
    if isinstance(instance, int):
        return True
    if isinstance(instance, float | decimal.Decimal):
        try:
            return bool(instance == int(instance))
        except (ValueError, OverflowError, decimal.InvalidOperation):
            return False
    return False


def _numeric_keyword(name: str) -> t.Callable[..., Iterator[ValidationError]]:
    """Wrap a numeric keyword (minimum, ...) so decimal strings compare as numbers."""
    original = DEFAULT_JSONSCHEMA_VALIDATOR.VALIDATORS[name]

    def check(
        validator: t.Any,  # jsonschema's keyword functions are untyped
        limit: t.Any,
        instance: t.Any,
        schema: t.Any,
    ) -> Iterator[ValidationError]:
        if isinstance(instance, str) and _is_decimal_string(instance):
            instance = decimal.Decimal(instance)
        if isinstance(instance, decimal.Decimal) and isinstance(limit, float):
            instance = float(instance)  # Decimal and float do not mix in arithmetic
        yield from original(validator, limit, instance, schema)

    return check


def _validator_class() -> type[t.Any]:
    type_checker = DEFAULT_JSONSCHEMA_VALIDATOR.TYPE_CHECKER.redefine_many(
        {"number": _is_number, "integer": _is_integer},
    )
    keywords = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
    return validators.extend(
        DEFAULT_JSONSCHEMA_VALIDATOR,
        validators={name: _numeric_keyword(name) for name in keywords},
        type_checker=type_checker,
    )


def _format_checker() -> jsonschema.FormatChecker:
    checker = jsonschema.FormatChecker(formats=())
    for fmt, parse in DATELIKE_PARSERS.items():

        def check(instance: object, parse: t.Callable[[str], object] = parse) -> bool:
            if isinstance(instance, str):
                parse(instance)  # raises ValueError, which jsonschema reports
            return True

        checker.checks(fmt, raises=ValueError)(check)
    return checker


_VALIDATOR_CLASS = _validator_class()
_FORMAT_CHECKER = _format_checker()


def _path_text(path: Sequence[object]) -> str:
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step}]"
        else:
            text += f".{step}" if text else str(step)
    return text or "(record)"


def expected_text(schema: Mapping[str, t.Any]) -> str:
    """Human wording of what a (sub)schema accepts: `integer or null`."""
    names: list[str] = []
    if "type" in schema:
        declared = schema["type"]
        for name in [declared] if isinstance(declared, str) else declared:
            if name == "string" and schema.get("format") in FORMAT_TEXT:
                names.append(FORMAT_TEXT[schema["format"]])
            else:
                names.append(str(name))
    for branch in schema.get("anyOf") or schema.get("oneOf") or []:
        names.append(expected_text(branch))
    unique = list(dict.fromkeys(name for name in names if name))
    # "integer or null" reads better than "null or integer", whatever the order.
    unique.sort(key=lambda name: name == "null")
    return " or ".join(unique) or "a value matching the schema"


def explain(error: ValidationError) -> tuple[str, str]:
    """(field, problem) for a jsonschema error, in this target's wording."""
    path = list(error.absolute_path)
    got = show_value(error.instance)
    if error.validator == "required":
        instance = error.instance if isinstance(error.instance, dict) else {}
        missing = [name for name in error.validator_value if name not in instance]
        return _path_text([*path, missing[0] if missing else "?"]), "is required but missing"
    if error.validator in {"type", "anyOf", "oneOf"}:
        return _path_text(path), f"expected {expected_text(error.schema)}, got {got}"
    if error.validator == "format":
        wanted = FORMAT_TEXT.get(str(error.validator_value), str(error.validator_value))
        return _path_text(path), f"expected {wanted}, got {got}"
    if error.validator in _COMPARISONS:
        limit = show_value(error.validator_value)
        return _path_text(
            path
        ), f"expected a value {_COMPARISONS[error.validator]} {limit}, got {got}"
    if error.validator == "enum":
        allowed = ", ".join(show_value(value) for value in error.validator_value)
        return _path_text(path), f"expected one of {allowed}, got {got}"
    return _path_text(path), f"is invalid ({error.validator}): {error.message}"


class RecordValidator(BaseJSONSchemaValidator):
    """JSON schema validation whose errors name stream, record key and field."""

    def __init__(
        self,
        schema: dict[str, t.Any],
        *,
        stream_name: str,
        key_properties: Sequence[str],
        full: bool = True,
    ) -> None:
        """Compile the validator for one stream schema.

        Args:
            schema: The sink's schema (after stream maps and SDC columns).
            stream_name: For error messages.
            key_properties: Whose values identify the record in error messages.
            full: False when the user turned `validate_records` off: then only the
                date-like fields the SDK is about to parse are checked, so a bad date
                is still reported with its context.

        Raises:
            InvalidJSONSchema: if the tap's schema is not a valid JSON schema.
        """
        super().__init__(schema)
        try:
            _VALIDATOR_CLASS.check_schema(schema)
        except jsonschema.SchemaError as exc:
            msg = f"stream '{stream_name}': invalid JSON schema: {exc.message}"
            raise InvalidJSONSchema(msg) from exc
        self._validator = _VALIDATOR_CLASS(schema, format_checker=_FORMAT_CHECKER)
        self._stream_name = stream_name
        self._key_properties = tuple(key_properties)
        self._full = full
        self._datelike = _top_level_datelike(schema)
        self._seen = 0

    def error(self, record: Mapping[str, t.Any], field: str, problem: str) -> InvalidRecord:
        """Build the error for the record being validated now."""
        return record_error(
            self._stream_name,
            self._key_properties,
            record,
            ordinal=self._seen,
            field=field,
            problem=problem,
        )

    def validate(self, record: dict[str, t.Any]) -> None:
        """Raise InvalidRecord (the SDK's contract) naming stream, key and field."""
        self._seen += 1
        if self._full:
            error = best_match(self._validator.iter_errors(record))
            if error is not None:
                raise self.error(record, *explain(error))
            return
        for name, fmt in self._datelike.items():
            value = record.get(name)
            if isinstance(value, str):
                try:
                    DATELIKE_PARSERS[fmt](value)
                except ValueError:
                    problem = f"expected {FORMAT_TEXT[fmt]}, got {show_value(value)}"
                    raise self.error(record, name, problem) from None


def _top_level_datelike(schema: Mapping[str, t.Any]) -> dict[str, str]:
    """Top-level fields the SDK parses into date/datetime/time objects."""
    found: dict[str, str] = {}
    for name, prop in (schema.get("properties") or {}).items():
        for branch in [prop, *(prop.get("anyOf") or [])]:
            if "string" in branch.get("type", []) and branch.get("format") in DATELIKE_PARSERS:
                found[name] = branch["format"]
                break
    return found
