"""Building the all-in-one cluster's three rings with the ring builder's Python API.

Object, container and account rings each get the 4 storage nodes as 4 devices in 4 zones
(node N: zone N, `<ip_prefix>N`, port storage_port / +1 / +2, device `dN`, weight 100),
3 replicas, part power 10, rebalanced with a fixed seed. Builders and rings go to the conf
dir; existing ones are never rebuilt, so data placement survives `brume up` restarts.
"""
from __future__ import annotations

import os

from cli.allinone.layout import REPLICAS, STORAGE_SERVERS, Layout
from common.config import ConfigError

PART_POWER = 10
MIN_PART_HOURS = 1
SEED = 1
RING_KINDS = ("object", "container", "account")


def ring_path(layout: Layout, kind: str) -> str:
    return os.path.join(layout.conf_dir, f"{kind}.ring.gz")


def builder_path(layout: Layout, kind: str) -> str:
    return os.path.join(layout.conf_dir, f"{kind}.builder")


def device_records(layout: Layout, kind: str) -> list[dict]:
    offset = STORAGE_SERVERS[kind][1]
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
        builder = RingBuilder(PART_POWER, REPLICAS, MIN_PART_HOURS, seed=SEED)
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
    for kind in RING_KINDS:
        if os.path.exists(ring_path(layout, kind)):
            continue
        build_ring(layout, kind)
        built.append(f"{kind} ring {ring_path(layout, kind)}")
    return built
