"""Which injected fault, if any, a request gets.

The choice is a hash of (seed, request key, n) where n counts how often this exact request
(path + query, cursor reduced to its offset) was seen before. So faults do not depend on
arrival order or on which client asks, a rerun with the same seed sees the same faults,
and a retry of a failed request is a fresh draw that eventually passes.

One uniform draw per request is split into consecutive intervals, one per fault kind,
so each kind hits exactly its configured share of the requests it applies to.
"""

from __future__ import annotations

from dataclasses import dataclass

from vendor_sandbox.config import SandboxConfig
from vendor_sandbox.hashing import units

# Order matters only for reproducibility: it fixes the interval of each kind.
KINDS = ("error_5xx", "retry_after_503", "html_502", "stall", "partial_200", "expired_cursor")
STAT_KEYS = (*KINDS, "fail_service", "fail_account")


@dataclass(frozen=True)
class Fault:
    kind: str | None  # None: serve normally
    pick: float  # second draw in [0, 1) for sub-choices (which 5xx, which rows to drop)
    occurrence: int  # how many times this exact request was seen before


def rate_of(config: SandboxConfig, kind: str) -> float:
    rate: float = getattr(config, f"{kind}_rate")
    return rate


class FaultPlanner:
    """Not thread-safe: used only from the event loop thread."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def decide(self, config: SandboxConfig, key: str, applicable: frozenset[str]) -> Fault:
        occurrence = self._seen.get(key, 0)
        self._seen[key] = occurrence + 1
        return draw(config, key, occurrence, applicable)


def draw(config: SandboxConfig, key: str, occurrence: int, applicable: frozenset[str]) -> Fault:
    """The fault of the `occurrence`-th sighting of request `key` (pure function)."""
    u, pick = units(2, config.seed, "fault", key, occurrence)
    edge = 0.0
    for kind in KINDS:
        edge += rate_of(config, kind)
        if u < edge:
            return Fault(kind if kind in applicable else None, pick, occurrence)
    return Fault(None, pick, occurrence)
