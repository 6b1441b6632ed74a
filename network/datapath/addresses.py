"""The IPv4 addresses on a bridge made exactly a desired set (`ip addr`).

A tenant bridge carries its subnet's gateway (`10.0.0.1/24`); an external bridge carries its
gateway and every associated floating IP as a /32, so the node answers ARP for them.
"""
from __future__ import annotations

import json

from network.datapath.runner import Runner


def current_addresses(runner: Runner, device: str) -> set[str]:
    """The device's IPv4 addresses as `address/prefixlen`."""
    out = runner.run(["ip", "-j", "-4", "addr", "show", "dev", device])
    found: set[str] = set()
    for link in json.loads(out or "[]"):
        for info in link.get("addr_info", []):
            found.add(f"{info['local']}/{info['prefixlen']}")
    return found


def sync_addresses(runner: Runner, device: str, desired: list[str]) -> None:
    """Add what is missing, then remove what is not desired."""
    present = current_addresses(runner, device)
    for address in desired:
        if address not in present:
            runner.run(["ip", "addr", "add", address, "dev", device])
    for address in sorted(present - set(desired)):
        runner.run(["ip", "addr", "del", address, "dev", device])
