"""Timestamps that order every write in the cluster.

A timestamp is seconds since the epoch with 5 decimals, rendered with 10 integer digits
(`0001234567.12345`) in its "normal" form so that lexical order equals numeric order:
that is how it appears in file names (`<timestamp>.data`) and in `X-Timestamp` headers.
Comparisons between replicas use these values; the newest wins.
"""
from __future__ import annotations

import functools
import time

PRECISION = 5
_SCALE = 10**PRECISION
MAX_SECONDS = 9_999_999_999


class InvalidTimestamp(ValueError):
    """Raised for a value that is not a valid timestamp."""


@functools.total_ordering
class Timestamp:
    """An immutable point in time with 10-microsecond resolution."""

    __slots__ = ("ticks",)

    def __init__(self, value: float | str | int | Timestamp):
        if isinstance(value, Timestamp):
            ticks = value.ticks
        else:
            try:
                ticks = round(float(value) * _SCALE)
            except (TypeError, ValueError):
                raise InvalidTimestamp(f"invalid timestamp: {value!r}") from None
            if ticks != ticks or ticks < 0 or ticks > MAX_SECONDS * _SCALE:
                raise InvalidTimestamp(f"timestamp out of range: {value!r}")
        object.__setattr__(self, "ticks", ticks)

    def __setattr__(self, name, value):
        raise AttributeError("Timestamp is immutable")

    @classmethod
    def now(cls) -> Timestamp:
        return cls(time.time())

    @property
    def normal(self) -> str:
        """Fixed-width form for file names and headers: 0001234567.12345."""
        seconds, frac = divmod(self.ticks, _SCALE)
        return f"{seconds:010d}.{frac:05d}"

    @property
    def seconds(self) -> float:
        return self.ticks / _SCALE

    def __float__(self) -> float:
        return self.seconds

    def __str__(self) -> str:
        return self.normal

    def __repr__(self) -> str:
        return f"Timestamp({self.normal!r})"

    def __eq__(self, other) -> bool:
        if not isinstance(other, Timestamp):
            try:
                other = Timestamp(other)
            except InvalidTimestamp:
                return NotImplemented
        return self.ticks == other.ticks

    def __lt__(self, other) -> bool:
        if not isinstance(other, Timestamp):
            other = Timestamp(other)
        return self.ticks < other.ticks

    def __hash__(self) -> int:
        return hash(self.ticks)
