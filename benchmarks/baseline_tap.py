"""The same taps, synced the plain singer-sdk way: the baseline the benchmarks compare to.

Same streams, schemas and HTTP client; only the orchestration is singer-sdk's own (child
partitions one at a time, its state handling, its writer flushing after every message).

    python benchmarks/baseline_tap.py x --config config.json
"""

from __future__ import annotations

import sys

from singer_sdk import Tap
from singer_sdk.singerlib.encoding import SimpleSingerWriter

from tap_vendorx.tap import TapVendorX
from tap_vendory.tap import TapVendorY


class PlainSdkTapVendorX(TapVendorX):
    message_writer_class = SimpleSingerWriter

    def sync_all(self) -> None:  # type: ignore[misc]  # the point: the SDK's own sync
        Tap.sync_all(self)


class PlainSdkTapVendorY(TapVendorY):
    message_writer_class = SimpleSingerWriter

    def sync_all(self) -> None:  # type: ignore[misc]  # the point: the SDK's own sync
        Tap.sync_all(self)


if __name__ == "__main__":
    vendor = sys.argv.pop(1)
    tap_class = PlainSdkTapVendorX if vendor == "x" else PlainSdkTapVendorY
    tap_class.cli()
