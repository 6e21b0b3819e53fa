"""JSON schema (a stream's SCHEMA message) to flat Arrow columns.

Types come from the schema, never from the data, so every file of a stream has the
same Arrow schema whatever values a batch happens to hold (an all-null batch does not
turn a column into `null`, a batch of whole numbers does not turn a `number` into
int64).
"""

from __future__ import annotations

import enum
import typing as t
from dataclasses import dataclass

import pyarrow as pa
from singer_sdk.exceptions import InvalidJSONSchema

SEPARATOR = "__"


class Kind(enum.Enum):
    """How a column's values are checked and converted before Arrow sees them."""

    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DATE = "date"
    TIMESTAMP = "date-time"
    STRING = "string"
    JSON = "json"  # arrays and unflattened objects: always JSON-encoded
    ANY = "any"  # several or no declared types: strings as-is, the rest JSON-encoded


ARROW_TYPES: dict[Kind, pa.DataType] = {
    Kind.INTEGER: pa.int64(),
    Kind.NUMBER: pa.float64(),
    Kind.BOOLEAN: pa.bool_(),
    Kind.DATE: pa.date32(),
    Kind.TIMESTAMP: pa.timestamp("us", tz="UTC"),
    Kind.STRING: pa.string(),
    Kind.JSON: pa.string(),
    Kind.ANY: pa.string(),
}


@dataclass(frozen=True)
class Column:
    """One flat output column and where its value sits in a (nested) record."""

    name: str
    path: tuple[str, ...]
    kind: Kind
    nullable: bool

    @property
    def arrow_field(self) -> pa.Field:
        """The column's Arrow field."""
        return pa.field(self.name, ARROW_TYPES[self.kind], nullable=self.nullable)

    @property
    def display_path(self) -> str:
        """The field as the tap sent it (`usage.cpu`), for error messages."""
        return ".".join(self.path)


def columns_from_schema(
    schema: t.Mapping[str, t.Any],
    *,
    max_flatten_level: int,
) -> list[Column]:
    """Flatten a stream schema into columns, in declaration order.

    Objects nested up to `max_flatten_level` deep become `parent__child` columns
    (level 1 flattens top-level objects, 0 flattens nothing), like the SDK's own
    flattening. A flattened child is nullable when it or any ancestor is.

    Raises:
        InvalidJSONSchema: if two fields flatten to the same column name.
    """
    columns: list[Column] = []
    _collect(
        schema.get("properties") or {},
        parent_path=(),
        parent_nullable=False,
        level=0,
        max_level=max_flatten_level,
        out=columns,
    )

    seen: set[str] = set()
    for column in columns:
        if column.name in seen:
            msg = (
                f"Two fields flatten to the same column {column.name!r}; rename one or "
                "lower max_flatten_level."
            )
            raise InvalidJSONSchema(msg)
        seen.add(column.name)
    return columns


def arrow_schema(columns: t.Iterable[Column]) -> pa.Schema:
    """The Arrow schema of the given columns."""
    return pa.schema([column.arrow_field for column in columns])


def _collect(
    properties: t.Mapping[str, t.Any],
    *,
    parent_path: tuple[str, ...],
    parent_nullable: bool,
    level: int,
    max_level: int,
    out: list[Column],
) -> None:
    for name, prop in properties.items():
        path = (*parent_path, name)
        types, nullable, resolved = resolve_types(prop)
        nullable = nullable or parent_nullable
        children = resolved.get("properties") if types == {"object"} else None
        if children and level < max_level:
            _collect(
                children,
                parent_path=path,
                parent_nullable=nullable,
                level=level + 1,
                max_level=max_level,
                out=out,
            )
            continue
        out.append(
            Column(
                name=SEPARATOR.join(path),
                path=path,
                kind=_kind(types, resolved),
                nullable=nullable,
            ),
        )


def resolve_types(prop: t.Mapping[str, t.Any]) -> tuple[set[str], bool, t.Mapping[str, t.Any]]:
    """Return (non-null JSON types, nullable, the sub-schema those types come from).

    `anyOf`/`oneOf` with a single non-null branch resolve to that branch, so the
    common `anyOf: [{type: string, format: date-time}, {type: null}]` keeps its
    format. Without any declared type a field accepts anything, null included.
    """
    if "type" in prop:
        declared = prop["type"]
        names = {declared} if isinstance(declared, str) else set(declared)
        return names - {"null"}, "null" in names, prop

    branches = prop.get("anyOf") or prop.get("oneOf")
    if isinstance(branches, list) and branches:
        resolved = [resolve_types(branch) for branch in branches]
        nullable = any(branch_nullable for _, branch_nullable, _ in resolved)
        typed = [(names, schema) for names, _, schema in resolved if names]
        if len(typed) == 1:
            return typed[0][0], nullable, typed[0][1]
        merged: set[str] = set().union(*(names for names, _ in typed)) if typed else set()
        return merged, nullable, {}

    return set(), True, {}


_SIMPLE_KINDS: dict[frozenset[str], Kind] = {
    frozenset({"integer"}): Kind.INTEGER,
    frozenset({"number"}): Kind.NUMBER,
    frozenset({"integer", "number"}): Kind.NUMBER,
    frozenset({"boolean"}): Kind.BOOLEAN,
    frozenset({"array"}): Kind.JSON,
    frozenset({"object"}): Kind.JSON,
}
_STRING_FORMATS: dict[str, Kind] = {"date": Kind.DATE, "date-time": Kind.TIMESTAMP}


def _kind(types: set[str], prop: t.Mapping[str, t.Any]) -> Kind:
    if types == {"string"}:
        return _STRING_FORMATS.get(str(prop.get("format")), Kind.STRING)
    # Several types, or none declared (typeless, or null only): a string column is
    # the one Arrow type every such value can be written to without loss.
    return _SIMPLE_KINDS.get(frozenset(types), Kind.ANY)
