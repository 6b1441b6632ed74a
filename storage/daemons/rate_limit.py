"""A token-bucket pace keeper for background work (bytes or files per second).

Background daemons call `consume(amount)` after doing `amount` units of work; when they run
ahead of the configured rate it sleeps just long enough (a green sleep under eventlet) to bring
the average back down. A rate of 0 means unlimited.
"""
from __future__ import annotations

import time


class RateLimiter:
    """Keeps the long-run average of consumed units at or below `rate` per second."""

    def __init__(self, rate: float, burst_seconds: float = 1.0, clock=time.monotonic,
                 sleep=time.sleep):
        self.rate = float(rate)
        self.burst = max(self.rate * burst_seconds, 1.0)
        self.clock = clock
        self.sleep = sleep
        self.allowance = self.burst
        self.last = clock()

    def consume(self, amount: float) -> float:
        """Account for `amount` units; sleep if over the rate. Returns seconds slept."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        self.allowance = min(self.burst, self.allowance + (now - self.last) * self.rate)
        self.last = now
        self.allowance -= amount
        if self.allowance >= 0:
            return 0.0
        wait = -self.allowance / self.rate
        self.sleep(wait)
        self.last = self.clock()
        self.allowance = 0.0
        return wait
