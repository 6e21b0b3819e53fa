"""Chaos tests: the taps against a misbehaving sandbox, over real sockets, as subprocesses."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["x", "y"])
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)
