"""Failure-domain tree (root -> region -> zone -> ip -> device) and replica targets.

Dispersion comes first: for every partition, the replicas under a tier node are spread over
its children as evenly as their capacity (number of weighted devices) allows. Within that
rule each child gets a share of replicas as close to proportional to its weight as possible
(water-filling between the per-child lower and upper bounds the rule imposes). The shares
become integer replica counts per node (`target`), rounded top-down so that children always
sum to their parent; the device leaves' targets are what rebalance aims for.
"""
from __future__ import annotations

import math

from ring.devices import Device

ROOT = 0
LEVEL_NAMES = ("root", "region", "zone", "ip", "device")
DEVICE_LEVEL = 4


class Topology:
    """Tree of tier nodes for a list of devices (None entries are removed ids)."""

    def __init__(self, devs: list[Device | None]):
        self.level: list[int] = [0]
        self.parent: list[int] = [-1]
        self.children: list[list[int]] = [[]]
        self.key: list[tuple] = [()]
        self.weight: list[float] = [0.0]
        self.cap: list[int] = [0]
        self.dev_of_node: list[int] = [-1]
        self.dev_node: dict[int, int] = {}
        self.dev_path: dict[int, tuple[int, ...]] = {}
        index: dict[tuple, int] = {}
        ordered = sorted(
            (d for d in devs if d is not None),
            key=lambda d: (d.region, d.zone, d.ip, d.id),
        )
        for dev in ordered:
            keys = ((dev.region,), (dev.region, dev.zone), (dev.region, dev.zone, dev.ip))
            node = ROOT
            path = []
            for depth, key in enumerate(keys, start=1):
                child = index.get(key)
                if child is None:
                    child = self._new_node(depth, node, key, -1)
                    index[key] = child
                node = child
                path.append(node)
            leaf = self._new_node(DEVICE_LEVEL, node, ("d", dev.id), dev.id)
            path.append(leaf)
            self.dev_node[dev.id] = leaf
            self.dev_path[dev.id] = tuple(path)
            if dev.weight > 0:
                for n in [ROOT, *path]:
                    self.weight[n] += dev.weight
                    self.cap[n] += 1
        self.weighted = [w > 0 for w in self.weight]
        self.weighted_children = [
            [c for c in kids if self.weighted[c]] for kids in self.children
        ]
        self.nodes_top_down = sorted(range(len(self.level)), key=lambda n: (self.level[n], n))

    def _new_node(self, level: int, parent: int, key: tuple, dev_id: int) -> int:
        node = len(self.level)
        self.level.append(level)
        self.parent.append(parent)
        self.children.append([])
        self.children[parent].append(node)
        self.key.append(key)
        self.weight.append(0.0)
        self.cap.append(0)
        self.dev_of_node.append(dev_id)
        return node

    def devices_under(self, node: int) -> list[int]:
        """Device ids in the subtree of `node`."""
        stack, found = [node], []
        while stack:
            n = stack.pop()
            if self.level[n] == DEVICE_LEVEL:
                found.append(self.dev_of_node[n])
            else:
                stack.extend(self.children[n])
        return found

    # ----------------------------------------------------------------- targets
    def compute_targets(self, replicas: int, parts: int) -> tuple[list[float], list[int]]:
        """Per-node replica share (average per partition) and integer target counts."""
        share = [0.0] * len(self.level)
        target = [0] * len(self.level)
        share[ROOT] = float(replicas)
        target[ROOT] = replicas * parts
        for node in self.nodes_top_down:
            kids = self.weighted_children[node]
            if not kids:
                continue
            shares = child_shares(
                share[node], [self.cap[c] for c in kids], [self.weight[c] for c in kids]
            )
            for child, value in zip(kids, shares, strict=True):
                share[child] = value
            for child, value in zip(
                kids, round_preserving_sum([s * parts for s in shares], target[node]), strict=True
            ):
                target[child] = value
        return share, target


def level_bounds(caps: list[int], count: int) -> tuple[list[int], list[int]]:
    """Per-child min/max replicas when `count` replicas are spread as evenly as caps allow."""
    total = sum(caps)
    count = min(count, total)
    low, high = 0, max(caps)
    while low < high:  # largest L with sum(min(cap, L)) <= count
        mid = (low + high + 1) // 2
        if sum(min(c, mid) for c in caps) <= count:
            low = mid
        else:
            high = mid - 1
    lo = [min(c, low) for c in caps]
    if sum(lo) == count:
        return lo, list(lo)
    return lo, [min(c, low + 1) for c in caps]


def child_shares(share: float, caps: list[int], weights: list[float]) -> list[float]:
    """Children's average replicas per partition, weight-proportional within dispersion."""
    share = min(share, float(sum(caps)))
    floor_count = math.floor(share + 1e-9)
    frac = max(0.0, share - floor_count)
    if frac < 1e-9:
        frac = 0.0
    lo_a, hi_a = level_bounds(caps, floor_count)
    lo_b, hi_b = level_bounds(caps, floor_count + 1) if frac else (lo_a, hi_a)
    lo = [(1 - frac) * a + frac * b for a, b in zip(lo_a, lo_b, strict=True)]
    hi = [(1 - frac) * a + frac * b for a, b in zip(hi_a, hi_b, strict=True)]
    if sum(hi) <= share + 1e-12:
        return hi
    if sum(lo) >= share - 1e-12:
        return lo

    def filled(scale: float) -> float:
        return sum(min(h, max(lv, scale * w)) for lv, h, w in zip(lo, hi, weights, strict=True))

    low, high = 0.0, 1.0
    while filled(high) < share:
        high *= 2
    for _ in range(64):
        mid = (low + high) / 2
        if filled(mid) < share:
            low = mid
        else:
            high = mid
    return [min(h, max(lv, high * w)) for lv, h, w in zip(lo, hi, weights, strict=True)]


def round_preserving_sum(values: list[float], total: int) -> list[int]:
    """Round floats to ints summing to `total` (largest remainders get the extra units)."""
    floors = [math.floor(v + 1e-9) for v in values]
    missing = total - sum(floors)
    order = sorted(range(len(values)), key=lambda i: (-(values[i] - floors[i]), i))
    if missing >= 0:
        for i in order[:missing]:
            floors[i] += 1
    else:
        for i in reversed(order):
            if missing == 0:
                break
            if floors[i] > 0:
                floors[i] -= 1
                missing += 1
    return floors
