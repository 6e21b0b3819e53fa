"""VendorY's opaque cursors: an offset bound to one query, signed, and short-lived.

A cursor is `base64url(json{o: offset, f: query fingerprint, t: issued at}) . mac`, the
mac a keyed blake2b so a client cannot forge an offset. It is refused when it does not
verify, when it is older than the TTL, or when it comes back with a different query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Mapping

# Paging size may change between pages (offsets stay meaningful); anything else is the query.
UNBOUND_PARAMS = frozenset({"cursor", "limit"})


class CursorError(ValueError):
    """The cursor cannot be honoured; the message says why (sent as the error detail)."""


def fingerprint(path: str, query: Mapping[str, str]) -> str:
    bound = sorted((k, v) for k, v in query.items() if k not in UNBOUND_PARAMS)
    return hashlib.blake2b(repr((path, bound)).encode(), digest_size=6).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(seed: int, payload: str) -> str:
    key = f"vendor-sandbox-cursor-{seed}".encode()[:64]
    return _b64(hashlib.blake2b(payload.encode(), key=key, digest_size=6).digest())


def issue(seed: int, query_fingerprint: str, offset: int, now: float) -> str:
    body = json.dumps(
        {"o": offset, "f": query_fingerprint, "t": round(now, 3)}, separators=(",", ":")
    )
    payload = _b64(body.encode())
    return f"{payload}.{_mac(seed, payload)}"


def _decode(seed: int, token: str) -> dict[str, object]:
    payload, sep, mac = token.partition(".")
    if not sep or not hmac.compare_digest(mac, _mac(seed, payload)):
        raise CursorError("cursor is malformed")
    try:
        data = json.loads(_unb64(payload))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise CursorError("cursor is malformed") from None
    if not isinstance(data, dict) or not isinstance(data.get("o"), int) or data["o"] < 0:
        raise CursorError("cursor is malformed")
    return data


def read(seed: int, token: str, query_fingerprint: str, now: float, ttl_s: float) -> int:
    """The offset the cursor points at, or CursorError."""
    data = _decode(seed, token)
    if data.get("f") != query_fingerprint:
        raise CursorError("cursor was issued for a different query")
    issued = data.get("t")
    if not isinstance(issued, (int, float)) or now - issued > ttl_s:
        raise CursorError("cursor has expired")
    offset = data["o"]
    assert isinstance(offset, int)  # checked by _decode
    return offset


def peek_offset(seed: int, token: str) -> int | None:
    """The offset without expiry or query checks (for keys that must not depend on time)."""
    try:
        offset = _decode(seed, token)["o"]
    except CursorError:
        return None
    return offset if isinstance(offset, int) else None
