"""Helpers shared by the ring tests: standard topologies and movement counting."""
from __future__ import annotations

import numpy as np

from ring.builder import RingBuilder

FIXED_NOW = 1_700_000_000.0
HOUR = 3600.0


def scenario_a_builder(min_part_hours: int = 1) -> RingBuilder:
    """Standard scenario A: part_power 14, 3 replicas, 4 zones x (100, 100, 200)."""
    builder = RingBuilder(14, 3, min_part_hours, seed=7)
    for zone in range(1, 5):
        for index, weight in enumerate((100, 100, 200)):
            builder.add_dev(1, zone, f"10.0.{zone}.{index + 1}", 6200, f"sd{index}", weight)
    return builder


def small_builder(part_power: int = 8, replicas: int = 3, zones: int = 4,
                  per_zone: int = 2, min_part_hours: int = 1) -> RingBuilder:
    builder = RingBuilder(part_power, replicas, min_part_hours)
    for zone in range(1, zones + 1):
        for index in range(per_zone):
            builder.add_dev(1, zone, f"127.0.{zone}.{index + 1}", 6200 + index, f"d{index}", 100)
    return builder


def moved_per_partition(old: np.ndarray, new: np.ndarray) -> np.ndarray:
    """Replicas of each partition now on a device that did not hold that partition before."""
    fresh = np.ones(new.shape, dtype=bool)
    for row in old:
        fresh &= new != row[None, :]
    return fresh.sum(axis=0)


def weight_shares(builder: RingBuilder) -> dict[int, float]:
    total = sum(d.weight for d in builder.existing_devs())
    return {
        d.id: d.weight / total * builder.replicas * builder.parts
        for d in builder.existing_devs()
    }
