"""Deterministic pseudo-randomness: every "random" choice is a hash of a key.

The sandbox never touches `random`'s global state: a value drawn from a hash of
(seed, purpose, ids...) is the same after a restart, in another process, and no
matter in which order concurrent requests arrive.
"""

from __future__ import annotations

import hashlib

_SEP = "\x1f"  # unit separator: keeps ("a", "bc") and ("ab", "c") apart
_SCALE = float(1 << 64)


def _key(parts: tuple[object, ...]) -> bytes:
    return _SEP.join(map(str, parts)).encode()


def digest(*parts: object) -> int:
    """A 64-bit integer fully determined by `parts`."""
    return int.from_bytes(hashlib.blake2b(_key(parts), digest_size=8).digest(), "big")


def unit(*parts: object) -> float:
    """A float in [0, 1) fully determined by `parts`."""
    return digest(*parts) / _SCALE


def units(count: int, *parts: object) -> list[float]:
    """`count` independent floats in [0, 1) from one hash (cheaper than `count` calls)."""
    raw = hashlib.blake2b(_key(parts), digest_size=8 * count).digest()
    return [int.from_bytes(raw[i : i + 8], "big") / _SCALE for i in range(0, 8 * count, 8)]
