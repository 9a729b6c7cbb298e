"""Token buckets, so the worker stays under the providers' limits instead of hitting them."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class TokenBucket:
    """`rate` tokens per second, at most `burst` saved up."""

    def __init__(self, rate: float, burst: float = 1.0) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()

    def _refill(self, now: float) -> None:
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_time(self, now: float | None = None) -> float:
        """Seconds until a token is available (0 when one is)."""
        now = time.monotonic() if now is None else now
        self._refill(now)
        return 0.0 if self.tokens >= 1 else (1 - self.tokens) / self.rate

    def take(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._refill(now)
        self.tokens -= 1


class ChannelLimiter:
    """One channel's limits: an overall rate, and a rate per recipient (chat or phone)."""

    def __init__(self, per_second: float, per_recipient: float | None = None,
                 recipient_burst: float = 1.0, max_recipients: int = 50_000) -> None:  # fmt: skip
        self.overall = TokenBucket(per_second, burst=1.0)
        self.per_recipient = per_recipient
        self.recipient_burst = recipient_burst
        self._recipients: OrderedDict[str, TokenBucket] = OrderedDict()
        self.max_recipients = max_recipients
        self._lock = threading.Lock()

    def _bucket(self, recipient: str) -> TokenBucket | None:
        if self.per_recipient is None:
            return None
        bucket = self._recipients.get(recipient)
        if bucket is None:
            bucket = TokenBucket(self.per_recipient, self.recipient_burst)
            self._recipients[recipient] = bucket
            if len(self._recipients) > self.max_recipients:
                self._recipients.popitem(last=False)
        self._recipients.move_to_end(recipient)
        return bucket

    def recipient_wait(self, recipient: str) -> float:
        """Seconds before this recipient may get another message."""
        with self._lock:
            bucket = self._bucket(recipient)
            return bucket.wait_time() if bucket else 0.0

    def acquire(self, recipient: str, sleep=time.sleep) -> None:
        """Waits for the overall rate, then takes a token for the message."""
        while True:
            with self._lock:
                wait = self.overall.wait_time()
                if wait <= 0:
                    self.overall.take()
                    bucket = self._bucket(recipient)
                    if bucket is not None:
                        bucket.take()
                    return
            sleep(wait)
