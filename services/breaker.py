"""A breaker: after another service failed, stop calling it for a while.

The geocoder and the photo bucket are called while someone waits (a citizen's step, a
web request holding one of gunicorn's few workers). When one of them times out, the next
calls would time out too: the breaker makes them fail at once instead, for `seconds`,
then lets one call through to see whether the service is back.

Each process keeps its own breaker (gunicorn's workers share nothing): every worker pays
one timeout, then answers at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable


class Breaker:
    """Open for `seconds` after a failure; a success closes it again."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        # Monotonic: a clock set back by NTP neither opens nor closes it. A test may give
        # its own clock to let the seconds pass without waiting for them.
        self.clock = clock
        self._open_until = 0.0

    def remaining(self) -> float:
        """Seconds until the service is tried again; 0 when it may be called now."""
        return max(0.0, self._open_until - self.clock())

    def is_open(self) -> bool:
        """Whether the service failed recently and should not be called yet."""
        return self.remaining() > 0

    def failed(self) -> None:
        self._open_until = self.clock() + self.seconds

    def reset(self) -> None:
        self._open_until = 0.0
