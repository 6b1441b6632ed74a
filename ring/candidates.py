"""Which partitions a device could give away: shuffled per-device lists with cursors.

The balancer asks a device for candidate partitions many times; building every device's list
at once (one radix argsort of the assignment table) and walking it with a cursor keeps each
request cheap. Lists go stale as replicas move, so every offered partition is re-checked
against the live table, and `rescan` rebuilds chosen devices' lists from scratch.
"""
from __future__ import annotations

from collections.abc import Iterator

import numpy as np


class CandidatePool:
    """Per-device shuffled partition lists over a live replica x partition table."""

    def __init__(self, assign: np.ndarray, dev_ids: list[int], rng: np.random.Generator):
        self.assign = assign
        self.parts = assign.shape[1]
        self.dev_ids = dev_ids
        self.rng = rng
        self._order: np.ndarray | None = None
        self._bounds: dict[int, tuple[int, int]] = {}
        self._lists: dict[int, list] = {}

    def reset(self) -> None:
        """Forget all lists and cursors (start of a balancing pass)."""
        self._order = None
        self._lists = {}

    def _state(self, dev_id: int) -> list:
        state = self._lists.get(dev_id)
        if state is None:
            if self._order is None:
                flat = self.assign.ravel()
                if flat.size and 0 <= flat.min() and flat.max() < 0xFFFF:
                    flat = flat.astype(np.uint16)  # numpy radix-sorts 16-bit keys
                self._order = np.argsort(flat, kind="stable")
                sorted_ids = flat[self._order]
                ids = np.array(self.dev_ids, dtype=flat.dtype)
                lo = np.searchsorted(sorted_ids, ids, side="left")
                hi = np.searchsorted(sorted_ids, ids, side="right")
                self._bounds = {
                    int(i): (int(a), int(b)) for i, a, b in zip(ids, lo, hi, strict=True)
                }
            a, b = self._bounds.get(dev_id, (0, 0))
            parts = self._order[a:b] % self.parts
            state = [self.rng.permutation(parts).tolist(), 0]
            self._lists[dev_id] = state
        return state

    def offer(self, dev_id: int, consume: bool) -> Iterator[int]:
        """Partitions the device holds now, shuffled. With `consume` each is offered once per
        pass; without, the walk starts over every time (for trial moves)."""
        state = self._state(dev_id)
        items = state[0]
        pos = state[1] if consume else 0
        assign = self.assign
        while pos < len(items):
            part = items[pos]
            pos += 1
            if consume:
                state[1] = pos
            if dev_id in assign[:, part]:
                yield part

    def rescan(self, dev_ids: list[int], done: set[int]) -> None:
        """Rebuild the lists of these devices from the live table (each once per `done`)."""
        for dev_id in dev_ids:
            if dev_id in done:
                continue
            done.add(dev_id)
            parts = np.nonzero((self.assign == dev_id).any(axis=0))[0]
            self._lists[dev_id] = [self.rng.permutation(parts).tolist(), 0]
