"""Chaos tests: the taps against a misbehaving sandbox, over real sockets, as subprocesses."""

from __future__ import annotations

import pytest

from tests.registry import VENDORS


@pytest.fixture(params=VENDORS)
def vendor(request: pytest.FixtureRequest) -> str:
    return str(request.param)
