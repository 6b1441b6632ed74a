"""Neutron API documents -> the `NodeState` of one host (pure).

A compute agent (or a node's network agent) reads `GET /v2.0/networks`, `/subnets`,
`/ports`, `/security-groups` and `/floatingips` as the service user and hands the lists,
as Neutron renders them, to `node_state`. The host's ports are those bound to it
(`binding:host_id`) with a `compute:` device owner, an IPv4 fixed IP and admin state up;
their networks, groups (and the groups their rules name), the external networks of their
floating IPs and, for "same group" rules, the fixed IPs of group members on other hosts
come along. Rules this datapath cannot express (IPv6, other protocols) are left out, which
only ever allows less: rules allow, nothing denies.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from network.datapath.model import FloatingIP, Network, NodeState, Port, Rule, SecurityGroup

PROTOCOL_NAMES = {None: "any", "any": "any", "tcp": "tcp", "6": "tcp", "udp": "udp",
                  "17": "udp", "icmp": "icmp", "1": "icmp"}


def _ipv4_fixed_ip(port: dict, subnets: dict[str, dict]) -> tuple[dict, str] | None:
    for fixed in port.get("fixed_ips") or []:
        subnet = subnets.get(fixed.get("subnet_id"))
        if subnet and subnet.get("ip_version", 4) == 4:
            return subnet, fixed["ip_address"]
    return None


def _rule(doc: dict) -> Rule | None:
    protocol = PROTOCOL_NAMES.get(None if doc.get("protocol") is None
                                  else str(doc["protocol"]).lower())
    if doc.get("ethertype", "IPv4") != "IPv4" or protocol is None:
        return None
    low, high = doc.get("port_range_min"), doc.get("port_range_max")
    if protocol == "any":
        low = high = None
    elif protocol in ("tcp", "udp") and low is not None and high is None:
        high = low
    prefix = doc.get("remote_ip_prefix")
    if prefix:
        prefix = str(ipaddress.IPv4Network(prefix, strict=False))
    return Rule(doc["direction"], protocol, low, high, prefix or None,
                doc.get("remote_group_id"))


def _is_local(port: dict, host: str) -> bool:
    return (port.get("binding:host_id") == host
            and str(port.get("device_owner") or "").startswith("compute:")
            and port.get("admin_state_up", True))


def node_state(host: str, networks: Iterable[dict], subnets: Iterable[dict],
               ports: Iterable[dict], security_groups: Iterable[dict],
               floatingips: Iterable[dict],
               external_access: frozenset[str] = frozenset()) -> NodeState:
    """The desired state of `host`; `external_access` lists networks to masquerade out."""
    nets = {n["id"]: n for n in networks}
    subs = {s["id"]: s for s in subnets}
    group_docs = {g["id"]: g for g in security_groups}
    all_ports = list(ports)
    local: list[Port] = []
    network_subnet: dict[str, dict] = {}
    for doc in sorted(all_ports, key=lambda p: p["id"]):
        found = _ipv4_fixed_ip(doc, subs) if _is_local(doc, host) else None
        if found is None:
            continue
        subnet, address = found
        if network_subnet.setdefault(doc["network_id"], subnet)["id"] != subnet["id"]:
            raise ValueError(f"network {doc['network_id']}: ports on two IPv4 subnets "
                             "(one subnet per network on a node)")
        local.append(Port(doc["id"], doc["network_id"], doc["mac_address"].lower(), address,
                          tuple(doc.get("security_groups") or ())))
    fips = [f for f in floatingips
            if f.get("port_id") in {p.id for p in local} and f.get("floating_ip_address")]
    for fip in fips:
        network_subnet.setdefault(fip["floating_network_id"],
                                  _subnet_holding(fip["floating_ip_address"],
                                                  fip["floating_network_id"], subs))
    state_networks = tuple(_network(nets[nid], subnet, nid in external_access)
                           for nid, subnet in sorted(network_subnet.items()))
    groups = _groups_needed(local, group_docs)
    members = _remote_members(groups, all_ports, {p.id for p in local}, subs)
    return NodeState(
        state_networks, tuple(local), groups,
        tuple(FloatingIP(f["floating_ip_address"], f["floating_network_id"], f["port_id"])
              for f in fips),
        members)


def _subnet_holding(address: str, network_id: str, subnets: dict[str, dict]) -> dict:
    for subnet in subnets.values():
        if (subnet["network_id"] == network_id and subnet.get("ip_version", 4) == 4
                and ipaddress.IPv4Address(address) in ipaddress.IPv4Network(subnet["cidr"])):
            return subnet
    raise ValueError(f"floating IP {address}: no subnet of network {network_id} holds it")


def _network(doc: dict, subnet: dict, external_access: bool) -> Network:
    return Network(doc["id"], subnet["cidr"], subnet["gateway_ip"],
                   dhcp=bool(subnet.get("enable_dhcp", True)),
                   dns_servers=tuple(subnet.get("dns_nameservers") or ()),
                   mtu=int(doc.get("mtu") or 1500),
                   external=bool(doc.get("router:external")),
                   external_access=external_access)


def _groups_needed(ports: list[Port], docs: dict[str, dict]) -> tuple[SecurityGroup, ...]:
    wanted = {g for p in ports for g in p.security_group_ids}
    pending = sorted(wanted)
    groups: dict[str, SecurityGroup] = {}
    while pending:
        group_id = pending.pop()
        if group_id in groups:
            continue
        doc = docs.get(group_id)
        if doc is None:
            raise ValueError(f"security group {group_id} not among the documents")
        rules = tuple(r for r in map(_rule, doc.get("security_group_rules") or ()) if r)
        groups[group_id] = SecurityGroup(group_id, rules)
        pending += [r.remote_group_id for r in rules
                    if r.remote_group_id and r.remote_group_id not in groups]
    return tuple(groups[g] for g in sorted(groups))


def _remote_members(groups: tuple[SecurityGroup, ...], ports: list[dict], local: set[str],
                    subnets: dict[str, dict]) -> dict[str, frozenset[str]]:
    named = {r.remote_group_id for g in groups for r in g.rules if r.remote_group_id}
    members: dict[str, set[str]] = {}
    for doc in ports:
        if doc["id"] in local:
            continue
        found = _ipv4_fixed_ip(doc, subnets)
        for group_id in doc.get("security_groups") or ():
            if group_id in named and found is not None:
                members.setdefault(group_id, set()).add(found[1])
    return {g: frozenset(ips) for g, ips in sorted(members.items())}
