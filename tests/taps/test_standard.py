"""singer-sdk's standard tap tests, each tap in sandbox mode (it starts its own sandbox)."""

from __future__ import annotations

import datetime as dt

from singer_sdk.testing import get_tap_test_class

from singer_fanout.dates import utc_today
from tests.registry import TAPS, tap_class

CONFIG = {
    "sandbox": True,
    "start_date": (utc_today() - dt.timedelta(days=4)).isoformat(),
    "max_concurrency": 4,
}

# One standard test class per registered tap (TestTapVendorX, ...), found by pytest here.
# Each its own copy: singer-sdk fills a tap's defaults into the dict it is given, and another
# tap's defaults are settings this one does not have.
for _tap in TAPS:
    globals()[f"Test{_tap['class']}"] = get_tap_test_class(tap_class(_tap["vendor"]),
                                                           config=dict(CONFIG))
