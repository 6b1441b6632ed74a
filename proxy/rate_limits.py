"""Write rate limits without IO: which rate applies, and how long a request must wait.

`size_rates` reads Swift-style `container_ratelimit_<size> = <rate>` options into points;
`rate_for_size` picks a container's rate from them: none below the smallest size, the last
rate from the largest size on, and a straight line between two points (sizes 100 → 100/s
and 200 → 50/s give 75/s at 150).

`Scheduler` spaces requests sharing a key (an account, a container) `1/rate` seconds apart
from a clock it is given: each key remembers when its next request may go. A request that
arrives earlier waits until then; one that would wait longer than `max_sleep` is refused and
leaves the schedule as it was. After a quiet spell a key may catch up on at most
`burst_seconds` of unused rate at once. State is per process (each proxy limits what it
sees) and bounded: keys whose slot is long past are dropped when the table grows.
"""
from __future__ import annotations

MAX_KEYS = 100_000


def size_rates(options: dict[str, str], prefix: str) -> list[tuple[int, float]]:
    """`<prefix><size> = <rate>` options -> [(size, rate)] sorted by size (ValueError if bad)."""
    points = []
    for name, value in options.items():
        if not name.startswith(prefix):
            continue
        size_text = name[len(prefix):]
        if not size_text.isdigit():
            raise ValueError(f"'{name}': the size after {prefix} must be an integer")
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"'{name}': the rate must be a number, got {value!r}") from None
        if not rate > 0:
            raise ValueError(f"'{name}': the rate must be positive")
        points.append((int(size_text), rate))
    return sorted(points)


def rate_for_size(points: list[tuple[int, float]], size: int) -> float | None:
    """Requests per second allowed for a container holding `size` objects (None: no limit)."""
    if not points or size < points[0][0]:
        return None
    for (low_size, low_rate), (high_size, high_rate) in zip(points, points[1:], strict=False):
        if low_size <= size < high_size:
            fraction = (size - low_size) / (high_size - low_size)
            return low_rate + (high_rate - low_rate) * fraction
    return points[-1][1]


class Scheduler:
    """Per-key request slots: `wait(key, rate)` -> seconds to wait first, or None (refuse)."""

    def __init__(self, clock, max_sleep: float, burst_seconds: float, max_keys: int = MAX_KEYS):
        self.clock = clock
        self.max_sleep = max_sleep
        self.burst_seconds = burst_seconds
        self.max_keys = max_keys
        self._next_slot: dict = {}

    def wait(self, key, rate: float) -> float | None:
        now = self.clock()
        # a new key is one that has been quiet for long: it may catch up a burst at once
        slot = max(self._next_slot.get(key, now), now - self.burst_seconds)
        if key not in self._next_slot:
            slot = now - self.burst_seconds
        delay = max(slot - now, 0.0)
        if delay > self.max_sleep:
            return None
        if key not in self._next_slot and len(self._next_slot) >= self.max_keys:
            self._forget_idle(now)
        self._next_slot[key] = slot + 1.0 / rate
        return delay

    def _forget_idle(self, now: float) -> None:
        horizon = now - self.burst_seconds
        idle = [key for key, slot in self._next_slot.items() if slot <= horizon]
        for key in idle:
            del self._next_slot[key]
        if len(self._next_slot) >= self.max_keys:
            self._next_slot.clear()

    def __len__(self) -> int:
        return len(self._next_slot)
