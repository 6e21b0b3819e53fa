"""The singer-sdk internals the kit relies on, checked against the installed SDK.

Each is listed once in singer_fanout/sdk_seam.py. When an SDK release renames, removes or
changes one of them, these tests fail and name it: that is the place to adapt.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest
from singer_sdk import Tap

from singer_fanout import sdk_seam
from singer_fanout.tap import FanOutTap
from tap_vendorx.tap import TapVendorX

KIT = Path(sdk_seam.__file__).parent


@pytest.mark.parametrize(("owner", "name", "parameters"), sdk_seam.PRIVATE_METHODS,
                         ids=lambda value: getattr(value, "__name__", str(value)))
def test_the_sdk_still_has_each_internal_the_kit_uses(owner, name, parameters):
    method = getattr(owner, name, None)
    assert callable(method), f"singer-sdk's {owner.__name__}.{name} is gone"
    signature = list(inspect.signature(method).parameters)[1:]  # after self
    assert tuple(signature) == parameters, (
        f"singer-sdk's {owner.__name__}.{name} now takes {signature}, the kit passes "
        f"{list(parameters)}")


def test_streams_still_have_the_attributes_the_kit_reads():
    tap = TapVendorX(config={"sandbox": True}, validate_config=False)
    for stream in tap.streams.values():
        for attribute in sdk_seam.PRIVATE_ATTRIBUTES:
            assert hasattr(stream, attribute), f"singer-sdk streams lost `{attribute}`"
        assert sdk_seam.tap_of(stream) is tap


def test_the_sdk_cli_still_reaches_the_kits_sync(monkeypatch, tmp_path):
    # The CLI calls Tap.sync_all, which the seam routes to the fan-out engine.
    reached = []
    monkeypatch.setattr(FanOutTap, "run_fanout_sync", lambda tap: reached.append(tap.name))
    tap = TapVendorX(config={"sandbox": True}, validate_config=False)
    tap.sync_all()
    assert reached == ["tap-vendorx"]
    assert "sync_all" in inspect.getsource(Tap.invoke), "the SDK's CLI no longer calls sync_all"


def test_no_other_kit_module_touches_sdk_internals():
    private = [name for _, name, _ in sdk_seam.PRIVATE_METHODS if name.startswith("_")]
    private += list(sdk_seam.PRIVATE_ATTRIBUTES)
    offenders = []
    for path in KIT.glob("*.py"):
        if path.name == "sdk_seam.py":
            continue
        text = path.read_text()
        offenders += [f"{path.name}: {name}" for name in private
                      if re.search(rf"\.{name}\b", text)]
        if "singer_sdk.helpers._" in text:
            offenders.append(f"{path.name}: singer_sdk.helpers._*")
    assert offenders == []
