"""Building the all-in-one cluster's rings with the ring builder's Python API.

Object, container and account rings each get the 4 storage nodes as 4 devices in 4 zones
(node N: zone N, `<ip_prefix>N`, port storage_port / +1 / +2, device `dN`, weight 100),
part power 10, rebalanced with a fixed seed; 3 replicas, except the object rings of the
storage policies other than 0 (`object-N`, one per `[storage-policy:N]` of brume.conf,
`common.storage_policies`), which get 2. Builders and rings go to the conf dir; existing
ones are never rebuilt, so data placement survives `brume up` restarts.
"""
from __future__ import annotations

import os

from cli.allinone.layout import REPLICAS, STORAGE_SERVERS, Layout
from common.config import ConfigError
from common.storage_policies import load_policies

PART_POWER = 10
MIN_PART_HOURS = 1
SEED = 1
RING_KINDS = ("object", "container", "account")
POLICY_REPLICAS = 2  # replicas of the object ring of every policy but 0


def ring_names(layout: Layout) -> list[str]:
    """The rings the cluster needs: the three kinds plus `object-N` per extra policy."""
    extra = [policy.ring_name for policy in load_policies(layout.conf_dir) if policy.index]
    return list(RING_KINDS) + extra


def replicas_of(name: str) -> int:
    return REPLICAS if name in RING_KINDS else POLICY_REPLICAS


def ring_path(layout: Layout, kind: str) -> str:
    return os.path.join(layout.conf_dir, f"{kind}.ring.gz")


def builder_path(layout: Layout, kind: str) -> str:
    return os.path.join(layout.conf_dir, f"{kind}.builder")


def device_records(layout: Layout, kind: str) -> list[dict]:
    offset = STORAGE_SERVERS[kind.partition("-")[0]][1]
    return [
        {
            "region": 1,
            "zone": node,
            "ip": layout.node_ip(node),
            "port": layout.storage_port + offset,
            "device": layout.device_name(node),
            "weight": 100.0,
        }
        for node in layout.nodes
    ]


def build_ring(layout: Layout, kind: str) -> None:
    """Create, fill, rebalance and save one builder and its ring."""
    try:
        from ring.builder import RingBuilder
        from ring.devices import RingError
    except ImportError as exc:
        raise ConfigError(f"cannot build the {kind} ring: ring builder unavailable ({exc})") \
            from None
    try:
        builder = RingBuilder(PART_POWER, replicas_of(kind), MIN_PART_HOURS, seed=SEED)
        for record in device_records(layout, kind):
            builder.add_dev(**record)
        builder.rebalance(seed=SEED)
        builder.save(builder_path(layout, kind))
        builder.write_ring(ring_path(layout, kind))
    except (RingError, OSError) as exc:
        raise ConfigError(f"cannot build the {kind} ring: {exc}") from None


def ensure_rings(layout: Layout) -> list[str]:
    """Build every ring that does not exist yet. Returns one line per ring built."""
    built = []
    for kind in ring_names(layout):
        if os.path.exists(ring_path(layout, kind)):
            continue
        build_ring(layout, kind)
        built.append(f"{kind} ring {ring_path(layout, kind)}")
    return built
