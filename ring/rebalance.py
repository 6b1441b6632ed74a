"""The rebalance engine: fill holes, repair dispersion, then move replicas toward targets.

Works on a replica x partition table of device ids (`-1` = unassigned) for one Topology:
1. every hole is placed by walking down from the root, at each tier taking a child with the
   fewest replicas of that partition that still has room, the most wanted one first;
2. partitions that are not spread as widely as the topology allows get one replica moved;
3. balance, tier by tier from the top: replicas go from children over their target to
   children under it, taken from the most overloaded device and given to a device that wants
   them, only where the partition stays well dispersed.
A partition that held data before this rebalance has at most one replica moved when
`min_part_hours` > 0 and is not touched at all while its last move is younger than that.
"""
from __future__ import annotations

import random

import numpy as np

from ring.candidates import CandidatePool
from ring.devices import RingError
from ring.dispersion import well_dispersed
from ring.topology import DEVICE_LEVEL, ROOT, Topology


class Rebalancer:
    """One rebalance run over `assign` (modified in place)."""

    def __init__(
        self,
        topo: Topology,
        assign: np.ndarray,
        targets: list[int],
        restricted: np.ndarray,
        last_moved: np.ndarray,
        min_part_hours: int,
        now_hour: int,
        rng: np.random.Generator,
    ):
        self.topo = topo
        self.assign = assign
        self.replicas, self.parts = assign.shape
        self.target = targets
        self.restricted = restricted
        self.last_moved = last_moved
        self.mph = min_part_hours
        self.now_hour = now_hour
        self.rng = rng
        self.moved_now = np.zeros(self.parts, dtype=bool)
        self.last_move: tuple = ()
        self._py_rng = random.Random(int(rng.integers(1 << 62)))
        self.paths = topo.dev_path
        self.count = self._node_totals()
        self.candidates = CandidatePool(assign, sorted(self.paths), rng)

    # ------------------------------------------------------------------ bookkeeping
    def _node_totals(self) -> list[int]:
        count = [0] * len(self.topo.level)
        flat = self.assign[self.assign >= 0]
        if flat.size:
            per_dev = np.bincount(flat)
            for dev_id, path in self.paths.items():
                if dev_id < per_dev.size and per_dev[dev_id]:
                    n = int(per_dev[dev_id])
                    count[ROOT] += n
                    for node in path:
                        count[node] += n
        return count

    def _bump(self, dev_id: int, delta: int) -> None:
        self.count[ROOT] += delta
        for node in self.paths[dev_id]:
            self.count[node] += delta

    def _part_counts(self, devs: list[int]) -> dict[int, int]:
        counts: dict[int, int] = {}
        for dev_id in devs:
            if dev_id < 0:
                continue
            for node in self.paths[dev_id]:
                counts[node] = counts.get(node, 0) + 1
        return counts

    def movable(self, part: int) -> bool:
        if not self.restricted[part] or self.mph == 0:
            return True
        if self.moved_now[part]:
            return False
        return int(self.last_moved[part]) + self.mph <= self.now_hour

    def _note_move(self, part: int) -> None:
        self.moved_now[part] = True

    # ------------------------------------------------------------------ dispersion rule
    def valid(self, devs: list[int]) -> bool:
        """True when the partition's replicas are spread as widely as the topology allows."""
        topo = self.topo
        counts = self._part_counts(devs)
        groups: dict[int, list[tuple[int, int]]] = {}
        for node, k in counts.items():
            if k > 1 and topo.level[node] == DEVICE_LEVEL:
                return False
            groups.setdefault(topo.parent[node], []).append((node, k))
        for parent, items in groups.items():
            max_k = max(k for _, k in items)
            if max_k < 2:
                continue
            present, min_nonfull = 0, max_k
            for node, k in items:
                if topo.weighted[node]:
                    present += 1
                    if k < topo.cap[node] and k < min_nonfull:
                        min_nonfull = k
            if present < len(topo.weighted_children[parent]):
                min_nonfull = 0
            if max_k - min_nonfull >= 2:
                return False
        return True

    def _want(self, node: int) -> float:
        return (self.target[node] - self.count[node]) / (self.target[node] + 1.0)

    def choose_device(
        self, start: int, counts: dict[int, int], require_want: bool, randomize: bool = False
    ) -> int | None:
        """Walk down from `start` to the device that should get one more replica.

        At each tier only children with the fewest replicas of this partition (and room for
        one more) qualify; among them the most wanted wins, or with `randomize` one is drawn
        with odds proportional to how many replicas it still wants (keeps fresh layouts from
        pairing the same failure domains over and over).
        """
        topo = self.topo
        level, cap, kids_of = topo.level, topo.cap, topo.weighted_children
        target, count = self.target, self.count
        node = start
        while level[node] < DEVICE_LEVEL:
            pool: list[int] = []
            best_k = 1 << 30
            for child in kids_of[node]:
                k = counts.get(child, 0)
                if k >= cap[child] or k > best_k:
                    continue
                if k < best_k:
                    best_k = k
                    pool = [child]
                else:
                    pool.append(child)
            if not pool:
                return None
            best = -1
            if randomize and len(pool) > 1:
                deficits = [target[c] - count[c] for c in pool]
                total = sum(d for d in deficits if d > 0)
                if total > 0:
                    pick = self._py_rng.random() * total
                    for child, deficit in zip(pool, deficits, strict=True):
                        if deficit > 0:
                            pick -= deficit
                            if pick < 0:
                                best = child
                                break
            if best < 0:
                best_want = -1e300
                for child in pool:
                    want = (target[child] - count[child]) / (target[child] + 1.0)
                    if want > best_want:
                        best, best_want = child, want
            node = best
        if require_want and count[node] >= target[node]:
            return None
        return topo.dev_of_node[node]

    # ------------------------------------------------------------------ phase 1: holes
    def place_holes(self) -> None:
        hole_parts = np.nonzero((self.assign < 0).any(axis=0))[0]
        if hole_parts.size == 0:
            return
        for part in self.rng.permutation(hole_parts).tolist():
            devs = self.assign[:, part].tolist()
            counts = self._part_counts(devs)
            fresh = not self.restricted[part]  # brand-new layouts are drawn at random
            for r, dev_id in enumerate(devs):
                if dev_id >= 0:
                    continue
                chosen = self.choose_device(ROOT, counts, False, randomize=fresh)
                if chosen is None:
                    raise RingError("impossible rebalance: not enough weighted devices")
                devs[r] = chosen
                self.assign[r, part] = chosen
                self._bump(chosen, 1)
                for node in self.paths[chosen]:
                    counts[node] = counts.get(node, 0) + 1
            self._note_move(part)

    # ------------------------------------------------------------------ phase 2: dispersion
    def repair_dispersion(self) -> None:
        bad = np.nonzero(~well_dispersed(self.topo, self.assign))[0]
        for part in self.rng.permutation(bad).tolist() if bad.size else []:
            for _ in range(self.replicas):
                devs = self.assign[:, part].tolist()
                if self.valid(devs) or not self.movable(part):
                    break
                self._repair_one(part, devs)

    def _repair_one(self, part: int, devs: list[int]) -> None:
        topo = self.topo
        counts = self._part_counts(devs)
        # the most crowded spot: deepest node whose parent has a spread of >= 2 (or dup device)
        worst, worst_level = -1, -1
        groups: dict[int, list[int]] = {}
        for node in counts:
            groups.setdefault(topo.parent[node], []).append(node)
        for parent, nodes in groups.items():
            ks = [counts[n] for n in nodes]
            spread_bad = max(ks) >= 2 and (
                len(nodes) < len(topo.weighted_children[parent]) or max(ks) - min(ks) >= 2
            )
            dup = any(counts[n] > 1 and topo.level[n] == DEVICE_LEVEL for n in nodes)
            if (spread_bad or dup) and topo.level[parent] > worst_level:
                worst_level = topo.level[parent]
                worst = max(nodes, key=lambda n: (counts[n], self.count[n] - self.target[n]))
        if worst < 0:
            worst = ROOT
        victim = self._crowded_replica(worst, devs, counts)
        if victim < 0:
            self._note_move(part)
            return
        r = devs.index(victim)
        rest = list(devs)
        rest[r] = -1
        chosen = self.choose_device(ROOT, self._part_counts(rest), False)
        if chosen is None or chosen == victim:
            self._note_move(part)
            return
        self.assign[r, part] = chosen
        self._bump(victim, -1)
        self._bump(chosen, 1)
        self._note_move(part)

    def _crowded_replica(self, top: int, devs: list[int], counts: dict[int, int]) -> int:
        """Device of the replica under `top` whose removal keeps the spread even below it.

        Every node on its path below `top` must be one of the most crowded among its
        siblings; among those replicas, the most overloaded device (then tier) gives.
        """
        topo = self.topo
        sibling_max: dict[int, int] = {}
        for node, k in counts.items():
            parent = topo.parent[node]
            if k > sibling_max.get(parent, 0):
                sibling_max[parent] = k
        best, best_key = -1, None
        for dev_id in devs:
            if dev_id < 0:
                continue
            path = self.paths[dev_id]
            if top != ROOT and top not in path:
                continue
            below = path[path.index(top) + 1:] if top != ROOT else path
            if any(counts[n] < sibling_max[topo.parent[n]] for n in below):
                continue
            key = tuple(self.count[n] - self.target[n] for n in below)
            if best_key is None or key > best_key:
                best, best_key = dev_id, key
        return best

    # ------------------------------------------------------------------ phase 3: balance
    def balance(self) -> None:
        for strict in (True, False, True):
            self.candidates.reset()
            for node in self.topo.nodes_top_down:
                if self.topo.level[node] < DEVICE_LEVEL and len(self.topo.children[node]) > 1:
                    self._balance_node(node, strict)

    def _balance_node(self, node: int, strict: bool) -> None:
        topo, count, target = self.topo, self.count, self.target
        kids = topo.children[node]
        hops_left = 2 * sum(max(target[c] - count[c], 0) for c in kids) + 8
        rewound: set[int] = set()
        while True:
            over = sorted(
                (c for c in kids if count[c] > target[c]), key=lambda c: target[c] - count[c]
            )
            under = [c for c in kids if count[c] < target[c]]
            if not over or not under:
                return
            progress = False
            for source_node in over:
                # strict: only overloaded devices give; relaxed: any device of the crowded
                # child may give (down to its target minus the child's surplus), the tier
                # below evens it out afterwards
                slack = 0 if strict else count[source_node] - target[source_node]
                if self._drain(source_node, under, slack, strict, stop_at_target=True):
                    progress = True
            if progress or strict:
                if not progress:
                    return
                continue
            # stuck: no crowded child can hand a replica straight to a wanting one. Let a
            # sibling that is on target give one to the wanting child; it then wants one
            # and the next round refills it (a two-step chain through another domain).
            for child in kids:
                if count[child] >= target[child]:
                    self.candidates.rescan(topo.devices_under(child), rewound)
            for wanting in under:
                if hops_left <= 0:
                    return
                for middle in kids:
                    if middle == wanting or count[middle] != target[middle]:
                        continue
                    if not self._drain(middle, [wanting], 1, False, False, limit=1):
                        continue
                    hop = self.last_move
                    if any(
                        self._drain(o, [middle], count[o] - target[o], False, True, limit=1)
                        for o in over
                        if count[o] > target[o]
                    ):
                        hops_left -= 1
                        progress = True
                        break
                    self._undo(hop)
            if not progress:
                return

    def _drain(
        self,
        source_node: int,
        under: list[int],
        slack: int,
        strict: bool,
        stop_at_target: bool,
        limit: int | None = None,
    ) -> bool:
        """Move replicas out of `source_node` into the `under` nodes; True if any moved.

        A `limit`ed drain is a trial (used for two-step chains): it rescans candidates from
        the start instead of consuming them.
        """
        topo, count, target = self.topo, self.count, self.target
        devices = sorted(
            (
                d
                for d in topo.devices_under(source_node)
                if count[topo.dev_node[d]] > target[topo.dev_node[d]] - slack
            ),
            key=lambda d: (target[topo.dev_node[d]] - count[topo.dev_node[d]], d),
        )
        moved = 0
        for dev_id in devices:
            leaf = topo.dev_node[dev_id]
            for part in self.candidates.offer(dev_id, consume=limit is None):
                if count[leaf] <= target[leaf] - slack:
                    break
                if stop_at_target and count[source_node] <= target[source_node]:
                    return moved > 0
                under = [c for c in under if count[c] < target[c]]
                if not under:
                    return moved > 0
                if self._try_move(part, dev_id, under, strict):
                    moved += 1
                    if limit is not None and moved >= limit:
                        return True
        return moved > 0

    def _try_move(self, part: int, source: int, under: list[int], strict: bool) -> bool:
        if not self.movable(part):
            return False
        devs = self.assign[:, part].tolist()
        if -1 in devs or not self.valid(devs):
            return False
        r = devs.index(source)
        rest = list(devs)
        rest[r] = -1
        counts = self._part_counts(rest)
        ranked = sorted(under, key=lambda c: (-self._want(c), c))
        for dest_node in ranked:
            chosen = self.choose_device(dest_node, counts, strict)
            if chosen is None:
                continue
            rest[r] = chosen
            if self.valid(rest):
                self.last_move = (r, part, source, chosen, bool(self.moved_now[part]))
                self.assign[r, part] = chosen
                self._bump(source, -1)
                self._bump(chosen, 1)
                self._note_move(part)
                return True
            rest[r] = -1
        return False

    def _undo(self, record: tuple) -> None:
        r, part, source, chosen, was_moved = record
        self.assign[r, part] = source
        self._bump(chosen, -1)
        self._bump(source, 1)
        self.moved_now[part] = was_moved

    def run(self) -> None:
        self.place_holes()
        self.repair_dispersion()
        self.balance()
