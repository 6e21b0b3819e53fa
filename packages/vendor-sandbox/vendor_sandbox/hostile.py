"""Hostile answers: 200s whose bodies break the contract, for ids named in `hostile_services`.

Real vendors ship regressions: a truncated body, a list that became an object, a number
sent as a string, a field renamed away, new fields, a cursor that loops, a page far
bigger than usual. The knob maps an id to one such mode:

- a service id: that service's metrics (X) / usage (Y) answers;
- an account id: that account's service (X) / app (Y) listing.

Only 200 answers of the contract are changed; errors, faults and rate limits stay as they
are. Every mode is deterministic: the same request gets the same hostile body.

| mode | what the body becomes |
|---|---|
| malformed_json | the first half of the JSON text: cut off mid-document |
| wrong_shape | the item list (`data` / `items`) becomes an object keyed by position |
| wrong_types | one field per item gets a plausible wrong type (see WRONG_TYPES) |
| missing_fields | the item's id field goes missing (see MISSING_FIELDS) |
| unknown_fields | every item gains a new field; Y usage also gains rows of a new metric |
| repeat_cursor | (Y only) `next_cursor` repeats the cursor of the request, forever |
| huge_page | items are padded with an unknown field to about 1 MiB per page |
| trickle_body | the right body, chunked, TRICKLE_BYTES every TRICKLE_INTERVAL_S |
| endless_body | chunked, starts like the right body, never ends (the first item repeated) |
| deep_nesting | the item list is DEEP_NESTING arrays nested in each other (`[[[[...]]]]`) |
| foreign_link | (Z only) the `Link` next page points at another host |

A trickled body keeps every single read quick while the whole takes minutes; an endless one
comes as fast as the client reads. Both stop when the client goes away.

VendorZ's report answers are CSV or 202s: only its JSON listings are spoiled.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from vendor_sandbox import cursor
from vendor_sandbox.api import Context, Route, VendorApi
from vendor_sandbox.httpserver import Response
from vendor_sandbox.stats import Stats

HUGE_PAGE_BYTES = 1 << 20
TRICKLE_BYTES = 8
TRICKLE_INTERVAL_S = 0.2
ENDLESS_CHUNK_BYTES = 64 * 1024
DEEP_NESTING = 200_000
NEW_FIELD = "sandbox_new_field"
PADDING_FIELD = "sandbox_padding"
NEW_METRIC = "gpu_seconds"
FOREIGN_HOST = "vendorz.attacker.example"
Converter = Callable[[Any], Any]


def _epoch_of(text: Any) -> Any:
    moment = datetime.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    return int(moment.timestamp())


def _iso_of(epoch: Any) -> Any:
    moment = datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# (vendor, route scope) -> field -> what its value becomes. Each is a mistake a vendor
# plausibly makes: numbers as strings, a timestamp changing representation, "true" text.
WRONG_TYPES: dict[tuple[str, str], dict[str, Converter]] = {
    ("x", "services"): {"created_at": _epoch_of},
    ("x", "metrics"): {"requests": str},
    ("y", "services"): {"created_ts": _iso_of},
    ("y", "metrics"): {"estimated": lambda flag: "true" if flag else "false"},
    ("z", "services"): {"created_at": _epoch_of},
}
# (vendor, route scope) -> the field each item loses: the one that identifies it.
MISSING_FIELDS: dict[tuple[str, str], str] = {
    ("x", "services"): "id",
    ("x", "metrics"): "date",
    ("y", "services"): "app_id",
    ("y", "metrics"): "ts",
    ("z", "services"): "id",
}


@dataclass(frozen=True)
class Spot:
    """Where a hostile body is being made: which vendor, which route, which request."""

    vendor: str
    scope: str
    ctx: Context

    @property
    def items_key(self) -> str:
        return "items" if self.vendor == "y" else "data"


def apply(ctx: Context, vendor: VendorApi, route: Route, response: Response,
          stats: Stats) -> Response:
    """`response` as the hostile mode configured for this request's target makes it."""
    if response.status != 200 or not ctx.config.hostile_services:
        return response
    param = {"services": vendor.account_param, "metrics": vendor.service_param}.get(route.scope)
    mode = ctx.config.hostile_mode(ctx.params.get(param, "")) if param else None
    if mode is None or not response.content_type.startswith("application/json"):
        return response
    stats.fault(f"hostile_{mode}")
    spot = Spot(vendor.name, route.scope, ctx)
    if mode in STREAMS:
        return Response(200, b"", response.content_type, response.headers,
                        stream=STREAMS[mode](response.body, spot))
    if mode == "foreign_link":
        headers = [
            (name, re.sub(r"<https?://[^/>]+", f"<http://{FOREIGN_HOST}", value))
            if name == "Link" else (name, value)
            for name, value in response.headers
        ]
        return Response(200, response.body, response.content_type, headers)
    if mode == "malformed_json":
        body = response.body[: len(response.body) // 2]
    elif mode == "deep_nesting":
        body = b'{"%s":%s%s}' % (spot.items_key.encode(), b"[" * DEEP_NESTING, b"]" * DEEP_NESTING)
    else:
        payload = json.loads(response.body)
        SPOILERS[mode](payload, spot)
        body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(200, body, response.content_type, response.headers)


def _wrong_shape(payload: dict[str, Any], spot: Spot) -> None:
    items = payload[spot.items_key]
    payload[spot.items_key] = {str(position): item for position, item in enumerate(items)}


def _wrong_types(payload: dict[str, Any], spot: Spot) -> None:
    for item in payload[spot.items_key]:
        for name, convert in WRONG_TYPES[spot.vendor, spot.scope].items():
            item[name] = convert(item[name])


def _missing_fields(payload: dict[str, Any], spot: Spot) -> None:
    for item in payload[spot.items_key]:
        item.pop(MISSING_FIELDS[spot.vendor, spot.scope], None)


def _unknown_fields(payload: dict[str, Any], spot: Spot) -> None:
    items = payload[spot.items_key]
    for item in items:
        item[NEW_FIELD] = {"added_in": "v2.1", "tags": ["beta"]}
    if (spot.vendor, spot.scope) == ("y", "metrics"):
        # A metric the contract does not list yet, for every hour the page has.
        for ts in sorted({item["ts"] for item in items}):
            items.append({"ts": ts, "metric": NEW_METRIC, "value": "1.00", "unit": "s",
                          "estimated": False, "revision": 0})


def _repeat_cursor(payload: dict[str, Any], spot: Spot) -> None:
    """The request's own cursor again; a first page gets a cursor even when it is the last."""
    if spot.vendor != "y":
        return  # page numbers cannot repeat a cursor (the config refuses it for X anyway)
    query = spot.ctx.request.query
    sent = query.get("cursor")
    if sent:
        payload["next_cursor"] = sent
    elif not payload.get("next_cursor"):
        offset = len(payload[spot.items_key])  # the end: the next page would be empty
        fingerprint = cursor.fingerprint(spot.ctx.request.path, query)
        payload["next_cursor"] = cursor.issue(spot.ctx.config.seed, fingerprint, offset,
                                              spot.ctx.now)


def _huge_page(payload: dict[str, Any], spot: Spot) -> None:
    items = payload[spot.items_key]
    padding = "x" * (HUGE_PAGE_BYTES // max(len(items), 1))
    for item in items:
        item[PADDING_FIELD] = padding


SPOILERS: dict[str, Callable[[dict[str, Any], Spot], None]] = {
    "wrong_shape": _wrong_shape,
    "wrong_types": _wrong_types,
    "missing_fields": _missing_fields,
    "unknown_fields": _unknown_fields,
    "repeat_cursor": _repeat_cursor,
    "huge_page": _huge_page,
}


async def _trickle(body: bytes, _spot: Spot) -> AsyncIterator[bytes]:
    for start in range(0, len(body), TRICKLE_BYTES):
        if start:
            await asyncio.sleep(TRICKLE_INTERVAL_S)
        yield body[start:start + TRICKLE_BYTES]


async def _endless(body: bytes, spot: Spot) -> AsyncIterator[bytes]:
    items = json.loads(body)[spot.items_key]
    item = json.dumps(items[0] if items else {"id": "endless"}, separators=(",", ":")).encode()
    chunk = b"," + b",".join([item] * max(1, ENDLESS_CHUNK_BYTES // (len(item) + 1)))
    yield b'{"%s":[%s' % (spot.items_key.encode(), item)
    while True:
        yield chunk
        await asyncio.sleep(0)  # a client reading as fast as this writes must not starve others


STREAMS: dict[str, Callable[[bytes, Spot], AsyncIterator[bytes]]] = {
    "trickle_body": _trickle,
    "endless_body": _endless,
}
