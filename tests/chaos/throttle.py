"""A burst of 429s: mid-run, the vendor refuses the next few requests whatever the budget.

The tap paces itself from the rate-limit headers, so against a steady budget it almost never
sees a 429. Real budgets move under it (other jobs on the same token or org, a vendor
throttling for a moment). `Sandbox.refuse_next` refuses the tap's next requests however
fast or slow the machine is; the trigger is the number of requests the tap has made since
the burst was set up, read from the sandbox's stats.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from vendor_sandbox import Sandbox

POLL_S = 0.005
GIVE_UP_S = 30.0


class ThrottleBurst:
    def __init__(self, sandbox: Sandbox, *, after_requests: int, cut_to: int) -> None:
        """`cut_to`: how many requests in a row are refused."""
        self.sandbox = sandbox
        self.after_requests = after_requests
        self.cut_to = cut_to
        self.fired = False
        self._stop = threading.Event()

    def _wait_for(self, condition: str, threshold: int) -> bool:
        deadline = time.monotonic() + GIVE_UP_S
        while not self._stop.is_set() and time.monotonic() < deadline:
            if self.sandbox.stats()[condition] >= threshold:
                return True
            self._stop.wait(POLL_S)
        return False

    def _run(self) -> None:
        already = self.sandbox.stats()["requests_total"]
        if not self._wait_for("requests_total", already + self.after_requests):
            return
        refused = self.sandbox.stats()["rate_limited"]
        self.sandbox.refuse_next(self.cut_to)
        try:
            self.fired = self._wait_for("rate_limited", refused + 1)
        finally:
            self.sandbox.refuse_next(0)

    @contextmanager
    def running(self) -> Iterator[ThrottleBurst]:
        thread = threading.Thread(target=self._run, daemon=True)
        thread.start()
        try:
            yield self
        finally:
            self._stop.set()
            thread.join(timeout=GIVE_UP_S)
