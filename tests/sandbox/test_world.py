"""The generated world: ids, lifetimes, and determinism from the seed."""

from __future__ import annotations

import datetime
import re

import pytest

from vendor_sandbox import SandboxConfig, run_sandbox, truth_records
from vendor_sandbox.world import build_world

from .helpers import TODAY, walk_x, walk_y


def world(vendor: str = "x", **knobs: object):
    config = SandboxConfig(vendor=vendor, seed=knobs.pop("seed", 7), today=TODAY, **knobs)  # type: ignore[arg-type]
    return build_world(config, TODAY)


def test_ids_follow_each_vendor_style_and_are_unique() -> None:
    for vendor, account_re, service_re in (
        ("x", r"acc_[0-9a-f]{4}", r"svc_\d+"),
        ("y", r"o-[0-9a-f]{4}", r"a-\d+"),
    ):
        w = world(vendor, accounts=300)
        assert all(re.fullmatch(account_re, a.id) for a in w.accounts)
        assert all(re.fullmatch(service_re, s) for s in w.service_by_id)
        assert len(w.account_by_id) == 300
        numbers = sorted(int(s.split("_" if vendor == "x" else "-")[1]) for s in w.service_by_id)
        assert numbers == list(range(1, len(numbers) + 1))  # unique across the world


def test_ids_are_handed_out_in_creation_order() -> None:
    w = world(accounts=20)
    services = sorted(w.service_by_id.values(), key=lambda s: int(s.id[4:]))
    assert [s.created for s in services] == sorted(s.created for s in services)
    for listing in w.services.values():
        assert [int(s.id[4:]) for s in listing] == sorted(int(s.id[4:]) for s in listing)


def test_lifetimes_cover_full_partial_and_deleted_services() -> None:
    w = world(accounts=200, history_days=60, deleted_service_rate=0.15)
    services = list(w.service_by_id.values())
    full = sum(s.created_day < w.history_start for s in services) / len(services)
    deleted = [s for s in services if s.deleted]
    assert 0.25 < full < 0.42  # about a third have the whole history
    assert 0.10 < len(deleted) / len(services) < 0.20
    assert all(
        s.created < s.deleted and s.deleted_day < TODAY + datetime.timedelta(days=1)
        for s in deleted
        if s.deleted
    )
    assert all(s.created_day < TODAY for s in services)


def test_accounts_may_have_no_services() -> None:
    w = world(accounts=30, services_per_account=(0, 1))
    sizes = {len(listing) for listing in w.services.values()}
    assert sizes == {0, 1}


def test_same_seed_same_world_other_seed_other_world() -> None:
    assert world(seed=3) == world(seed=3)
    assert world(seed=3).accounts != world(seed=4).accounts


def test_pinned_world_date_keeps_the_world_when_today_moves() -> None:
    pinned = SandboxConfig(vendor="y", seed=1, today=TODAY, world_date=TODAY)
    later = TODAY + datetime.timedelta(days=5)
    assert build_world(pinned, TODAY) == build_world(pinned, later)


@pytest.mark.parametrize(("vendor", "walk"), [("x", walk_x), ("y", walk_y)])
def test_api_is_identical_across_restarts(vendor, walk) -> None:
    config = SandboxConfig(vendor=vendor, seed=11, today=TODAY, history_days=8, rate_limit=10_000)
    with run_sandbox(config) as box:
        first = walk(box.url, 8)
    with run_sandbox(config) as box:
        second = walk(box.url, 8)
    assert first == second
    assert first == list(truth_records(config))
