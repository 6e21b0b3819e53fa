"""Fixtures: sandboxes served over real sockets on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any, Literal

import pytest

from vendor_sandbox import Sandbox, SandboxConfig, run_sandbox

from .helpers import TODAY


@pytest.fixture
def start() -> Iterator[Callable[..., Sandbox]]:
    """start(vendor, **knobs) -> a running sandbox, stopped at the end of the test."""
    with ExitStack() as stack:

        def _start(vendor: Literal["x", "y"], **knobs: Any) -> Sandbox:
            knobs.setdefault("seed", 7)
            knobs.setdefault("today", TODAY)
            return stack.enter_context(run_sandbox(SandboxConfig(vendor=vendor, **knobs)))

        yield _start


@pytest.fixture(scope="module")
def x_box() -> Iterator[Sandbox]:
    """A shared, fault-free VendorX sandbox (tests must not change its knobs)."""
    with run_sandbox(SandboxConfig(vendor="x", seed=7, today=TODAY, rate_limit=100_000)) as box:
        yield box


@pytest.fixture(scope="module")
def y_box() -> Iterator[Sandbox]:
    """A shared, fault-free VendorY sandbox (tests must not change its knobs)."""
    with run_sandbox(SandboxConfig(vendor="y", seed=7, today=TODAY, rate_limit=100_000)) as box:
        yield box
