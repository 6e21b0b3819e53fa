"""Checks on the shape of a vendor's JSON, so a surprise names what was wrong and where."""

from __future__ import annotations

from typing import Any

from singer_fanout.errors import PartitionError


def require_list(payload: Any, key: str, what: str) -> list[Any]:
    """`payload[key]` as a list of objects, or a PartitionError saying what came instead."""
    if not isinstance(payload, dict):
        raise PartitionError(what, f"expected a JSON object, got {type(payload).__name__}")
    items = payload.get(key)
    if not isinstance(items, list):
        raise PartitionError(
            what, f"expected a list under '{key}', got {type(items).__name__}"
        )
    for position, item in enumerate(items):
        if not isinstance(item, dict):
            raise PartitionError(what, f"item {position} of '{key}' is not an object")
    return items


def require_fields(item: dict[str, Any], fields: tuple[str, ...], what: str) -> None:
    missing = [name for name in fields if item.get(name) in (None, "")]
    if missing:
        raise PartitionError(what, f"item is missing required field(s) {', '.join(missing)}")
