"""How long a scope's rate-limit window really is, learnt from the answers that open one.

A reset header rounded up to whole seconds says a window ends up to a second after it
really does; waiting for it costs that second at every window of a binding budget. Yet
the window's true end can be known far closer:

- The answer that opens a window says so: `X-RateLimit-Remaining` is one below the limit.
  That request was let through at `sent` and its answer read at `read`, so the window
  opened somewhere in [sent, read].
- The same answer's reset, rounded up to `resolution` seconds, puts the window's end in
  (sent + reset - resolution, read + reset]. The window's length is therefore in
  (reset - resolution - (read - sent), reset + (read - sent)].
- Every window that opens narrows that interval further; a request refused (429) while
  the window was believed over raises its lower end.

Budgets are published as whole units of the header's resolution ("100 per 10 s"), so
the length taken is the largest whole multiple of the resolution inside the interval
(the safe side), else its upper end. A window then ends at most one round trip after
`read + length`: the limiter waits until that moment instead of the rounded header's.

The estimate is only believed where it cannot hurt: the limiter never waits past what
the header says, and intervals that contradict each other (the vendor changed its
window, or its windows do not open with a request) make it start over.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Float slack when snapping to a whole multiple of the resolution.
_EPSILON = 1e-9


@dataclass
class WindowLength:
    """The interval (low, high] known to hold a scope's window length, in seconds."""

    resolution_s: float
    low: float = 0.0
    high: float = math.inf
    restarts: int = 0  # how often contradicting observations made it start over

    def opened(self, sent: float, read: float, reset_in_s: float) -> None:
        """An answer that opened a window: sent at `sent`, read at `read`, saying the
        window resets in `reset_in_s` (rounded up to the resolution)."""
        round_trip = max(0.0, read - sent)
        self._narrow(reset_in_s - self.resolution_s - round_trip, reset_in_s + round_trip)

    def still_open_after(self, seconds: float) -> None:
        """A request arriving `seconds` after the latest window opened was refused: the
        window is longer than that."""
        self._narrow(seconds, self.high)

    def estimate(self) -> float | None:
        """The length to wait for: the largest whole multiple of the resolution in the
        interval, else its upper end; None while nothing is known."""
        if math.isinf(self.high):
            return None
        step = self.resolution_s
        if step > 0:
            whole = math.floor(self.high / step + _EPSILON) * step
            if whole > self.low and whole > 0:
                return whole
        return self.high

    def _narrow(self, low: float, high: float) -> None:
        new_low, new_high = max(self.low, low), min(self.high, high)
        if new_low >= new_high:
            # What was learnt no longer holds: keep only the newest observation.
            self.restarts += 1
            new_low, new_high = low, high if high > low else math.inf
        self.low, self.high = new_low, new_high
