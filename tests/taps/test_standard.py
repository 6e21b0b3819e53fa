"""singer-sdk's standard tap tests, each tap in sandbox mode (it starts its own sandbox)."""

from __future__ import annotations

import datetime as dt

from singer_sdk.testing import get_tap_test_class

from singer_fanout.dates import utc_today
from tap_vendorx.tap import TapVendorX
from tap_vendory.tap import TapVendorY

CONFIG = {
    "sandbox": True,
    "start_date": (utc_today() - dt.timedelta(days=4)).isoformat(),
    "max_concurrency": 4,
}

TestTapVendorX = get_tap_test_class(TapVendorX, config=CONFIG)
TestTapVendorY = get_tap_test_class(TapVendorY, config=CONFIG)
