"""An HTTP answer as the error rules and the streams see it: status, headers, body."""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

# msgspec's parser (C, no per-value Python objects beyond the result) reads a metrics page
# about three times faster than the standard library's. It is stricter: whatever it refuses
# (a NaN literal, an integer or exponent out of range, a BOM, UTF-16) goes to the standard
# library, so a body means exactly what `json.loads` makes of it.


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: Mapping[str, str]  # case-insensitive (urllib3's HTTPHeaderDict)
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON; ValueError when it is not JSON (or nested too deeply)."""
        try:
            return msgspec.json.decode(self.body)
        except (msgspec.MsgspecError, RecursionError):
            pass
        try:
            return json.loads(self.body)
        except RecursionError:
            # The parser recurses once per level: a hostile `[[[[...` would otherwise
            # surface as a bare RecursionError from deep inside the standard library.
            raise NestedTooDeeply(
                f"response nested too deeply (more than {sys.getrecursionlimit()} levels "
                "of arrays/objects)"
            ) from None

    def text(self) -> str:
        """The body decoded as UTF-8 (a BOM is dropped); ValueError when it is not."""
        return self.body.decode("utf-8-sig")

    def csv_rows(self) -> list[dict[str, str]]:
        """A CSV body with a header row, one dict per row; ValueError when it is not CSV."""
        try:
            reader = csv.DictReader(io.StringIO(self.text(), newline=""), strict=True)
            rows = list(reader)
        except csv.Error as error:
            raise ValueError(f"malformed CSV: {error}") from None
        if reader.fieldnames is None:
            raise ValueError("empty CSV body: no header row")
        for number, row in enumerate(rows, start=2):
            if None in row or None in row.values():
                raise ValueError(f"CSV line {number} does not have one value per column")
        return rows


class NestedTooDeeply(ValueError):
    """The body is JSON-looking but nests deeper than the parser can follow."""


@dataclass(frozen=True)
class Reply(Answer):
    """A successful answer: `payload` is the parsed JSON, or None for a raw body."""

    payload: Any = None
