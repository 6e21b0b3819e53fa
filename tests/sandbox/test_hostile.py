"""The hostile_services knob: each mode's wire shape, only for the named id, deterministic."""

from __future__ import annotations

import json
import time

import pytest

from vendor_sandbox import SandboxConfig, truth_records
from vendor_sandbox.__main__ import build_parser
from vendor_sandbox.config import HOSTILE_MODES, config_from_arguments
from vendor_sandbox.hostile import (
    DEEP_NESTING,
    HUGE_PAGE_BYTES,
    NEW_FIELD,
    NEW_METRIC,
    PADDING_FIELD,
    TRICKLE_BYTES,
    TRICKLE_INTERVAL_S,
)

from .helpers import TODAY, X_METRICS, X_SERVICES, Y_APPS, Y_USAGE, epoch, openapi, session

DAY = 86_400


def two_services(config: SandboxConfig) -> tuple[dict[str, str], dict[str, str]]:
    """Two services that have metrics, in different accounts when possible."""
    found: dict[str, dict[str, str]] = {}
    for record in truth_records(config):
        if record["type"] == "metric" and record["service_id"] not in found:
            found[record["service_id"]] = {
                "account_id": record["account_id"], "service_id": record["service_id"],
            }
    services = sorted(found.values(), key=lambda ids: ids["account_id"])
    return services[0], services[-1]


def get(box, template: str, ids: dict[str, str], params: dict | None = None, *,
        stream: bool = False):
    vendor = box.config.vendor
    names = {"account_id": ids["account_id"], "service_id": ids.get("service_id", "")}
    if vendor == "y":
        names = {"org_id": names["account_id"], "app_id": names["service_id"]}
    if template in (X_METRICS, Y_USAGE) and params is None:
        day = epoch(TODAY) - 3 * DAY
        params = ({"start_date": "2026-11-01", "end_date": "2026-11-17"} if vendor == "x"
                  else {"start_ts": day, "end_ts": day + DAY})
    return session(vendor).get(box.url + template.format(**names), params=params, timeout=10,
                               stream=stream)


def hostile_box(start, vendor: str, mode: str, scope: str):
    """A sandbox whose first service (metrics scope) or its account (services) is hostile."""
    plain = SandboxConfig(vendor=vendor, seed=7, today=TODAY)
    target, other = two_services(plain)
    key = target["service_id"] if scope == "metrics" else target["account_id"]
    box = start(vendor, rate_limit=100_000, hostile_services={key: mode})
    return box, target, other


ITEMS = {"x": "data", "y": "items"}
METRICS = {"x": X_METRICS, "y": Y_USAGE}
SERVICES = {"x": X_SERVICES, "y": Y_APPS}


@pytest.mark.parametrize("vendor", ["x", "y"])
@pytest.mark.parametrize("scope", ["metrics", "services"])
def test_malformed_json_is_cut_off_and_other_ids_are_untouched(start, vendor, scope) -> None:
    box, target, other = hostile_box(start, vendor, "malformed_json", scope)
    template = METRICS[vendor] if scope == "metrics" else SERVICES[vendor]
    spoiled = get(box, template, target)
    assert spoiled.status_code == 200
    assert spoiled.headers["Content-Type"].startswith("application/json")
    with pytest.raises(json.JSONDecodeError):
        json.loads(spoiled.text)
    assert get(box, template, target).content == spoiled.content  # deterministic
    if other["account_id"] != target["account_id"] or scope == "metrics":
        assert get(box, template, other).json()[ITEMS[vendor]]  # untouched, valid
    assert box.stats()["faults"]["hostile_malformed_json"] == 2


@pytest.mark.parametrize("vendor", ["x", "y"])
def test_wrong_shape_turns_the_item_list_into_an_object(start, vendor) -> None:
    box, target, _ = hostile_box(start, vendor, "wrong_shape", "metrics")
    items = get(box, METRICS[vendor], target).json()[ITEMS[vendor]]
    assert isinstance(items, dict)
    assert list(items) == [str(i) for i in range(len(items))]
    assert items


@pytest.mark.parametrize(
    ("vendor", "scope", "field", "kind"),
    [
        ("x", "metrics", "requests", str),
        ("x", "services", "created_at", int),
        ("y", "metrics", "estimated", str),
        ("y", "services", "created_ts", str),
    ],
)
def test_wrong_types_change_one_field_per_item(start, vendor, scope, field, kind) -> None:
    box, target, _ = hostile_box(start, vendor, "wrong_types", scope)
    template = METRICS[vendor] if scope == "metrics" else SERVICES[vendor]
    items = get(box, template, target).json()[ITEMS[vendor]]
    assert items
    assert all(isinstance(item[field], kind) for item in items)


@pytest.mark.parametrize(
    ("vendor", "scope", "field"),
    [("x", "metrics", "date"), ("x", "services", "id"), ("y", "metrics", "ts"),
     ("y", "services", "app_id")],
)
def test_missing_fields_drop_the_identifying_field(start, vendor, scope, field) -> None:
    box, target, _ = hostile_box(start, vendor, "missing_fields", scope)
    template = METRICS[vendor] if scope == "metrics" else SERVICES[vendor]
    items = get(box, template, target).json()[ITEMS[vendor]]
    assert items
    assert all(field not in item for item in items)


@pytest.mark.parametrize("vendor", ["x", "y"])
def test_unknown_fields_are_added_and_known_ones_kept(start, vendor) -> None:
    box, target, _ = hostile_box(start, vendor, "unknown_fields", "metrics")
    plain = start(vendor, rate_limit=100_000)
    spoiled = get(box, METRICS[vendor], target).json()[ITEMS[vendor]]
    normal = get(plain, METRICS[vendor], target).json()[ITEMS[vendor]]
    known = [{k: v for k, v in item.items() if k != NEW_FIELD} for item in spoiled]
    if vendor == "y":
        new_rows = [item for item in known if item["metric"] == NEW_METRIC]
        assert {row["ts"] for row in new_rows} == {row["ts"] for row in normal}
        known = [item for item in known if item["metric"] != NEW_METRIC]
    assert known == normal
    assert all(NEW_FIELD in item for item in spoiled if item.get("metric") != NEW_METRIC)


def test_repeat_cursor_echoes_the_cursor_forever(start) -> None:
    box, target, _ = hostile_box(start, "y", "repeat_cursor", "metrics")
    first = get(box, Y_USAGE, target).json()
    day = epoch(TODAY) - 3 * DAY
    params = {"start_ts": day, "end_ts": day + DAY, "cursor": first["next_cursor"]}
    assert first["next_cursor"], "a first page always gets a cursor"
    second = get(box, Y_USAGE, target, params).json()
    assert second["next_cursor"] == first["next_cursor"]
    assert get(box, Y_USAGE, target, params).json()["next_cursor"] == first["next_cursor"]


def test_repeat_cursor_is_refused_for_vendor_x() -> None:
    with pytest.raises(ValueError, match="repeat_cursor"):
        SandboxConfig(vendor="x", hostile_services={"svc_1": "repeat_cursor"})


@pytest.mark.parametrize("vendor", ["x", "y"])
def test_huge_page_is_padded_to_a_mebibyte(start, vendor) -> None:
    box, target, _ = hostile_box(start, vendor, "huge_page", "metrics")
    response = get(box, METRICS[vendor], target)
    assert len(response.content) >= HUGE_PAGE_BYTES * 0.9
    assert all(PADDING_FIELD in item for item in response.json()[ITEMS[vendor]])


@pytest.mark.parametrize("vendor", ["x", "y"])
def test_a_trickled_body_is_the_right_one_a_few_bytes_at_a_time(start, vendor) -> None:
    box, target, _ = hostile_box(start, vendor, "trickle_body", "metrics")
    box.update(hostile_services={})
    right = get(box, METRICS[vendor], target).content
    box.update(hostile_services={target["service_id"]: "trickle_body"})
    started = time.monotonic()
    response = get(box, METRICS[vendor], target, stream=True)
    assert response.headers["Transfer-Encoding"] == "chunked"
    chunks = response.iter_content(chunk_size=None)
    pieces = [next(chunks) for _ in range(3)]
    assert all(len(piece) <= TRICKLE_BYTES for piece in pieces)
    assert b"".join(pieces) == right[: len(b"".join(pieces))]
    assert time.monotonic() - started >= 2 * TRICKLE_INTERVAL_S * 0.9
    response.close()
    assert box.stats()["faults"]["hostile_trickle_body"] == 1


@pytest.mark.parametrize("vendor", ["x", "y"])
def test_an_endless_body_never_ends_and_stops_when_the_client_leaves(start, vendor) -> None:
    box, target, other = hostile_box(start, vendor, "endless_body", "metrics")
    response = get(box, METRICS[vendor], target, stream=True)
    received = 0
    for piece in response.iter_content(chunk_size=64 * 1024):
        if not received:
            assert piece.startswith(b'{"%s":[{' % ITEMS[vendor].encode())
        received += len(piece)
        if received > 8 * 1024 * 1024:
            break
    response.close()
    assert received > 8 * 1024 * 1024
    # The server noticed the client leaving: other requests are served as usual.
    assert get(box, METRICS[vendor], other).json()[ITEMS[vendor]]


@pytest.mark.parametrize("vendor", ["x", "y"])
def test_deep_nesting_nests_the_item_list(start, vendor) -> None:
    box, target, _ = hostile_box(start, vendor, "deep_nesting", "metrics")
    body = get(box, METRICS[vendor], target).content
    prefix = b'{"%s":' % ITEMS[vendor].encode()
    assert body == prefix + b"[" * DEEP_NESTING + b"]" * DEEP_NESTING + b"}"
    with pytest.raises(RecursionError):
        json.loads(body)


def test_errors_are_not_spoiled(start) -> None:
    box, target, _ = hostile_box(start, "x", "malformed_json", "metrics")
    response = get(box, X_METRICS, target, {"start_date": "2026-11-10", "end_date": "2026-11-01"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_range"


def test_unknown_modes_are_refused_naming_them() -> None:
    with pytest.raises(ValueError, match="not garbage"):
        SandboxConfig(vendor="y", hostile_services={"a-1": "garbage"})


def test_the_cli_flag_parses_id_mode_pairs() -> None:
    args = build_parser().parse_args(
        ["serve", "--vendor", "y", "--hostile-services", "a-2=wrong_shape, o-1=huge_page"]
    )
    config = config_from_arguments(args)
    assert config.hostile_services == (("a-2", "wrong_shape"), ("o-1", "huge_page"))
    assert config.hostile_mode("o-1") == "huge_page"
    assert config.hostile_mode("a-3") is None
    assert set(HOSTILE_MODES) >= {mode for _, mode in config.hostile_services}


def test_live_update_takes_a_mapping(start) -> None:
    box = start("x", rate_limit=100_000)
    assert box.update(hostile_services={"svc_2": "wrong_shape"}).hostile_services == (
        ("svc_2", "wrong_shape"),
    )


@pytest.mark.parametrize("vendor", ["x", "y", "z"])
def test_every_mode_is_documented_as_sandbox_only_behaviour(vendor) -> None:
    description = openapi(vendor)["info"]["description"]
    documented = description.split("Sandbox-only behaviour")[1]
    for mode in HOSTILE_MODES:
        assert f"`{mode}`" in documented, mode
