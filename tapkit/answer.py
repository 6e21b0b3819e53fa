"""An HTTP answer as the error rules see it: status, headers, body. Nothing more."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Answer:
    status_code: int
    headers: Mapping[str, str]  # case-insensitive (urllib3's HTTPHeaderDict)
    body: bytes

    def json(self) -> Any:
        """The body parsed as JSON; ValueError when it is not JSON (or nested too deeply)."""
        try:
            return json.loads(self.body)
        except RecursionError:
            # The parser recurses once per level: a hostile `[[[[...` would otherwise
            # surface as a bare RecursionError from deep inside the standard library.
            raise NestedTooDeeply(
                f"response nested too deeply (more than {sys.getrecursionlimit()} levels "
                "of arrays/objects)"
            ) from None


class NestedTooDeeply(ValueError):
    """The body is JSON-looking but nests deeper than the parser can follow."""
