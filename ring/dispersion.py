"""Vectorized dispersion checks over a whole assignment table.

A partition is well dispersed when, at every tier node holding some of its replicas, the
replicas are spread over the node's children as evenly as the children's capacity allows:
no child holds two more replicas than a weighted child that still has room. `well_dispersed`
answers that for every partition at once (numpy over the replica rows), and
`dispersion_report` counts bad and shared placements per tier for the CLI and benchmark.
"""
from __future__ import annotations

import numpy as np

from ring.topology import DEVICE_LEVEL, LEVEL_NAMES, ROOT, Topology


def _node_tables(topo: Topology, max_dev: int) -> list[np.ndarray]:
    """For each level 0..4, a table dev id -> node id at that level (-1 if unknown)."""
    tables = [np.full(max_dev + 2, -1, dtype=np.int32) for _ in range(DEVICE_LEVEL + 1)]
    for dev_id, path in topo.dev_path.items():
        tables[0][dev_id] = ROOT
        for level, node in enumerate(path, start=1):
            tables[level][dev_id] = node
    return tables


def _level_ids(topo: Topology, assign: np.ndarray) -> list[np.ndarray]:
    max_dev = max(int(assign.max(initial=0)), max(topo.dev_path, default=0))
    tables = _node_tables(topo, max_dev)
    safe = np.where(assign < 0, max_dev + 1, assign)
    return [np.take(table, safe) for table in tables]


def _same_counts(ids: np.ndarray) -> np.ndarray:
    """cnt[r, p] = number of replicas r' of partition p with ids[r', p] == ids[r, p]."""
    cnt = np.zeros(ids.shape, dtype=np.int16)
    for other in range(ids.shape[0]):
        cnt += ids == ids[other]
    return cnt


def well_dispersed(topo: Topology, assign: np.ndarray) -> np.ndarray:
    """Boolean per partition: True when every tier spreads its replicas as widely as it can."""
    replicas, parts = assign.shape
    ok = ~(assign < 0).any(axis=0)
    if replicas == 0 or parts == 0:
        return ok
    ids = _level_ids(topo, assign)
    ok &= ~(ids[DEVICE_LEVEL] < 0).any(axis=0)
    weighted = np.array(topo.weighted, dtype=bool)
    cap = np.array(topo.cap, dtype=np.int32)
    n_weighted_kids = np.array([len(k) for k in topo.weighted_children], dtype=np.int32)
    n_kids = np.array([len(k) for k in topo.children], dtype=np.int32)
    for level in range(1, DEVICE_LEVEL + 1):
        here_all = np.maximum(ids[level], 0)
        cnt_all = _same_counts(here_all)
        if level == DEVICE_LEVEL:
            ok &= ~(cnt_all > 1).any(axis=0)
        # only partitions with two replicas under one node, whose parent has a choice of
        # children, can be unevenly spread at this level
        parent_all = np.maximum(ids[level - 1], 0)
        suspect = ((cnt_all > 1) & (n_kids[parent_all] > 1)).any(axis=0)
        cols = np.nonzero(suspect)[0]
        if cols.size == 0:
            continue
        here, parent, cnt = here_all[:, cols], parent_all[:, cols], cnt_all[:, cols]
        child_weighted = weighted[here]
        child_nonfull = child_weighted & (cnt < cap[here])
        first = np.ones(here.shape, dtype=bool)
        for r in range(1, replicas):
            for earlier in range(r):
                first[r] &= here[r] != here[earlier]
        big = np.int16(1 << 14)
        bad = np.zeros(cols.size, dtype=bool)
        for r in range(replicas):
            same_group = parent == parent[r]
            max_k = np.where(same_group, cnt, 0).max(axis=0)
            min_nonfull = np.where(same_group & child_nonfull, cnt, big).min(axis=0)
            distinct = (same_group & first & child_weighted).sum(axis=0)
            min_nonfull = np.where(distinct < n_weighted_kids[parent[r]], 0, min_nonfull)
            bad |= max_k.astype(np.int32) - min_nonfull >= 2
        ok[cols[bad]] = False
    return ok


def dispersion_report(topo: Topology, assign: np.ndarray) -> dict:
    """Per tier: partitions badly dispersed overall, and partitions sharing a node per tier."""
    replicas, parts = assign.shape
    good = well_dispersed(topo, assign) if parts else np.ones(0, dtype=bool)
    report: dict = {"partitions": parts, "badly_dispersed": int((~good).sum()), "sharing": {}}
    if parts == 0:
        return report
    ids = _level_ids(topo, assign)
    for level in range(1, DEVICE_LEVEL + 1):
        cnt = _same_counts(ids[level])
        report["sharing"][LEVEL_NAMES[level]] = int((cnt > 1).any(axis=0).sum())
    return report
