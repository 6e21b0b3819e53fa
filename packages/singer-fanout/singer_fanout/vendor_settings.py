"""Settings a vendor tap declares beyond the shared ones (an OAuth client id, a report
poll interval), each validated before any request with a message naming the setting.

singer-sdk hands JSON numbers over as `Decimal`; a declared number or integer accepts
them (and ints, floats) and gives the tap a plain int or float.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from singer_sdk import typing as th

from singer_fanout.errors import ConfigurationProblem

Kind = Literal["string", "integer", "number", "boolean"]
_TYPES: dict[str, type[th.JSONTypeHelper[Any]]] = {
    "string": th.StringType,
    "integer": th.IntegerType,
    "number": th.NumberType,
    "boolean": th.BooleanType,
}


@dataclass(frozen=True)
class VendorSetting:
    name: str
    kind: Kind
    description: str
    default: Any = None
    required: bool = False  # required unless `sandbox` is true
    secret: bool = False
    minimum: float | None = None
    maximum: float | None = None

    def schema_property(self) -> th.Property[Any]:
        return th.Property(self.name, _TYPES[self.kind], default=self.default,
                           secret=self.secret or None, description=self.description)

    def read(self, config: Mapping[str, Any]) -> Any:
        """The validated value (the default when unset), or ConfigurationProblem."""
        value = config.get(self.name)
        if value is None or value == "":
            if self.required and not config.get("sandbox"):
                raise ConfigurationProblem(
                    self.name, "is required (or set sandbox: true to sync from the bundled "
                    "sandbox)",
                )
            return self.default
        return self._checked(value)

    def _checked(self, value: Any) -> Any:
        shown = "(secret)" if self.secret else repr(value)
        if self.kind == "string":
            if not isinstance(value, str):
                raise ConfigurationProblem(self.name, f"{shown} is not a string")
            return value
        if self.kind == "boolean":
            if not isinstance(value, bool):
                raise ConfigurationProblem(self.name, f"{shown} is not true or false")
            return value
        number = _number(value)
        if number is None or (self.kind == "integer" and number != int(number)):
            wanted = "a whole number" if self.kind == "integer" else "a number"
            raise ConfigurationProblem(self.name, f"{shown} is not {wanted}")
        if self.minimum is not None and number < self.minimum:
            raise ConfigurationProblem(self.name, f"{shown} is less than {self.minimum:g}")
        if self.maximum is not None and number > self.maximum:
            raise ConfigurationProblem(self.name, f"{shown} is more than {self.maximum:g}")
        return int(number) if self.kind == "integer" else float(number)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return None
    number = float(value)
    return number if math.isfinite(number) else None
