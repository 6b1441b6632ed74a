"""NAT for floating IPs and outbound masquerade, as nftables statements (pure).

A floating IP is DNAT floating -> fixed on the way in (from anywhere, and from the node
itself) and SNAT fixed -> floating on the way out of the port's own bridge; a VM reaching
a floating IP of its own network is masqueraded behind the gateway (hairpin), so the reply
comes back through the node and is un-NATed. A network with
`external_access` has the rest of its traffic leaving its bridge masqueraded. Statements
are returned per chain of `table inet brume`, in a stable order; the floating addresses
themselves go on their external bridge as /32s (so the node answers ARP for them).
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from network.datapath.model import NodeState


@dataclass(frozen=True)
class NatPlan:
    """The statements of the three NAT chains."""

    prerouting: tuple[str, ...]
    output: tuple[str, ...]
    postrouting: tuple[str, ...]


def _by_address(value: str) -> ipaddress.IPv4Address:
    return ipaddress.IPv4Address(value)


def plan_nat(state: NodeState) -> NatPlan:
    """DNAT/SNAT per floating IP (ordered by floating address), then masquerades by CIDR."""
    dnat: list[str] = []
    snat: list[str] = []
    for fip in sorted(state.floating_ips, key=lambda f: _by_address(f.floating_ip)):
        port = state.port(fip.port_id)
        bridge = state.network(port.network_id).bridge
        dnat.append(f"ip daddr {fip.floating_ip} dnat ip to {port.fixed_ip}")
        snat.append(f'ip saddr {port.fixed_ip} oifname != "{bridge}" '
                    f"snat ip to {fip.floating_ip}")
    hairpin = [
        f'ct status dnat iifname "{bridge}" oifname "{bridge}" masquerade'
        for bridge in sorted({state.network(state.port(f.port_id).network_id).bridge
                              for f in state.floating_ips})
    ]
    masquerade = [
        f'ip saddr {network.cidr} oifname != "{network.bridge}" masquerade'
        for network in sorted(state.networks, key=lambda n: ipaddress.IPv4Network(n.cidr))
        if network.external_access and not network.external
    ]
    return NatPlan(tuple(dnat), tuple(dnat), tuple(hairpin + snat + masquerade))


def floating_addresses(state: NodeState) -> dict[str, list[str]]:
    """External bridge -> the floating addresses it must carry (as /32), in address order."""
    result: dict[str, list[str]] = {}
    for fip in state.floating_ips:
        bridge = state.network(fip.external_network_id).bridge
        result.setdefault(bridge, []).append(fip.floating_ip)
    return {b: sorted(a, key=_by_address) for b, a in sorted(result.items())}
