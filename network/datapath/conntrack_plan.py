"""Which tracked connections a new state no longer vouches for (pure).

`ct state established,related accept` keeps a connection alive after the rule that let it
in is gone, as does a DNAT entry after its floating IP is disassociated. So each address
the datapath filters gets a policy fingerprint (its port's chains and NAT, or the fixed IP
behind a floating IP); when the fingerprint changes or the address leaves, the node forgets
that address's connections, and their next packets meet the new rules.
"""
from __future__ import annotations

import hashlib
import ipaddress

from network.datapath.model import NodeState
from network.datapath.ruleset import port_rule_matches


def policy_fingerprints(state: NodeState) -> dict[str, str]:
    """Address -> digest of what decides its traffic (fixed IPs and floating IPs)."""
    floating = {f.port_id: f.floating_ip for f in state.floating_ips}
    result: dict[str, str] = {}
    for port in state.ports:
        network = state.network(port.network_id)
        policy = [port.mac, network.bridge, str(network.external_access),
                  floating.get(port.id, ""), "out", *port_rule_matches(state, port, "egress"),
                  "in", *port_rule_matches(state, port, "ingress")]
        result[port.fixed_ip] = _digest(policy)
    for fip in state.floating_ips:
        result[fip.floating_ip] = _digest(["floating", state.port(fip.port_id).fixed_ip])
    return result


def stale_addresses(old: dict[str, str], new: dict[str, str]) -> list[str]:
    """Addresses whose policy changed or that are gone, in address order."""
    stale = [address for address, digest in old.items() if new.get(address) != digest]
    return sorted(stale, key=ipaddress.IPv4Address)


def _digest(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
