"""Linux bridges of the networks: created, set up (MTU, up) and deleted with `ip link`."""
from __future__ import annotations

import json

from network.datapath.model import Network
from network.datapath.runner import Runner


def existing_bridges(runner: Runner) -> set[str]:
    """The names of the bridges that exist now."""
    links = json.loads(runner.run(["ip", "-j", "link", "show", "type", "bridge"]) or "[]")
    return {link["ifname"] for link in links}


def ensure_bridge(runner: Runner, network: Network, existing: set[str]) -> None:
    """Create the network's bridge unless it exists; set its MTU; bring it up."""
    if network.bridge not in existing:
        runner.run(["ip", "link", "add", "name", network.bridge, "type", "bridge"])
    runner.run(["ip", "link", "set", "dev", network.bridge, "mtu", str(network.mtu), "up"])


def delete_bridge(runner: Runner, name: str, existing: set[str]) -> None:
    """Delete a bridge (and with it its addresses); nothing when it is already gone."""
    if name in existing:
        runner.run(["ip", "link", "del", "dev", name])
