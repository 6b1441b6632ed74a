"""The node's whole nftables ruleset, as the text `nft -f` loads in one transaction (pure).

Two tables, each deleted and recreated in the same file, so a load replaces them
atomically and never leaves a half-old ruleset:

- `table bridge brume`: anti-spoofing per port, at layer 2 where the tap a frame came in on
  is known (the inet family only sees the bridge, and never sees ARP). A port may send only
  from its own MAC, ARP only for its own IP, IPv4 only from its fixed IP (or a DHCP
  discover from 0.0.0.0), never as a DHCP server, and nothing but IPv4 and ARP. A `tap*`
  device of no port in the state sends nothing (fail closed while a port is unknown).
- `table inet brume`: stateful filtering (needs `net.bridge.bridge-nf-call-iptables=1`, so
  bridged IPv4 passes the inet hooks with conntrack). Established/related traffic is
  accepted; each port has an `out-<tap>` chain (its egress rules) entered for what it sends
  and an `in-<tap>` chain (its ingress rules) entered for what is delivered to it, each
  ending in `drop`; DHCP between VMs and the node is allowed; VMs reach the node itself only
  for DHCP and ping; nothing is routed between two tenant bridges, or from outside into one,
  except through a floating IP (DNAT); a tenant bridge routes out only for a network with
  external access or a port with a floating IP. NAT chains come from
  `network.datapath.nat_plan`.
"""
from __future__ import annotations

from network.datapath.model import TAP_PREFIX, NodeState, Port
from network.datapath.nat_plan import plan_nat
from network.datapath.sg_rules import rule_match

TABLE = "brume"
HEADER = "# Brume datapath ruleset (network.datapath.ruleset); loaded whole by nft -f.\n"


def empty_ruleset() -> str:
    """Text that removes both tables (and fails on nothing when they are absent)."""
    return HEADER + "".join(
        f"table {family} {TABLE} {{}}\ndelete table {family} {TABLE}\n"
        for family in ("inet", "bridge")
    )


def _names(values: list[str]) -> str:
    return "{ " + ", ".join(f'"{v}"' for v in values) + " }"


def _ordered_ports(state: NodeState) -> list[Port]:
    return sorted(state.ports, key=lambda p: (state.network(p.network_id).bridge, p.id))


def _chain(name: str, body: list[str], hook: str | None = None) -> list[str]:
    lines = [f"\tchain {name} {{"]
    if hook:
        lines.append(f"\t\t{hook}")
    lines += [f"\t\t{statement}" for statement in body]
    return lines + ["\t}"]


def port_rule_matches(state: NodeState, port: Port, direction: str) -> list[str]:
    """The distinct matches of a port's rules in one direction, in group then rule order."""
    matches: list[str] = []
    for group_id in port.security_group_ids:
        for rule in state.group(group_id).rules:
            if rule.direction != direction:
                continue
            match = rule_match(rule, state)
            if match is not None and match not in matches:
                matches.append(match)
    return matches


def _spoof_chain(port: Port) -> list[str]:
    return _chain(f"spoof-{port.tap}", [
        f"ether saddr != {port.mac} drop",
        f"ether type arp arp saddr ether != {port.mac} drop",
        f"ether type arp arp saddr ip != {{ 0.0.0.0, {port.fixed_ip} }} drop",
        "ether type ip ip saddr 0.0.0.0 ip daddr 255.255.255.255 udp sport 68 udp dport 67 "
        "accept",
        "ether type ip udp sport 67 drop",
        f"ether type ip ip saddr != {port.fixed_ip} drop",
        "ether type != { ip, arp } drop",
        "accept",
    ])


def bridge_table(state: NodeState) -> list[str]:
    """`table bridge brume`: the anti-spoofing chain of every port."""
    ports = _ordered_ports(state)
    lines = [f"table bridge {TABLE} {{"]
    body = [f'iifname "{p.tap}" jump spoof-{p.tap}' for p in ports]
    body.append(f'iifname "{TAP_PREFIX}*" drop')
    lines += _chain("prerouting", body,
                    "type filter hook prerouting priority -200; policy accept;")
    for port in ports:
        lines += _spoof_chain(port)
    return lines + ["}"]


def _forward(state: NodeState, tenant: list[str]) -> list[str]:
    body = ["ct state established,related accept", "ct state invalid drop"]
    for port in _ordered_ports(state):
        bridge = state.network(port.network_id).bridge
        body.append(f'iifname "{bridge}" ip saddr {port.fixed_ip} jump out-{port.tap}')
        body.append(f'oifname "{bridge}" ip daddr {port.fixed_ip} jump in-{port.tap}')
    if not tenant:
        return body
    body += [f'iifname "{b}" oifname "{b}" accept' for b in tenant]
    body.append("ct status dnat accept")
    floating = {f.port_id for f in state.floating_ips}
    for port in _ordered_ports(state):
        if port.id in floating:
            bridge = state.network(port.network_id).bridge
            body.append(f'iifname "{bridge}" ip saddr {port.fixed_ip} '
                        f"oifname != {_names(tenant)} accept")
    for network in sorted(state.networks, key=lambda n: n.bridge):
        if network.external_access and not network.external:
            body.append(f'iifname "{network.bridge}" oifname != {_names(tenant)} accept')
    body.append(f"iifname {_names(tenant)} drop")
    body.append(f"oifname {_names(tenant)} drop")
    return body


def _input(state: NodeState, tenant: list[str]) -> list[str]:
    if not tenant:
        return []
    body = ["ct state established,related accept",
            f"iifname {_names(tenant)} udp sport 68 udp dport 67 accept"]
    for port in _ordered_ports(state):
        bridge = state.network(port.network_id).bridge
        body.append(f'iifname "{bridge}" ip saddr {port.fixed_ip} jump out-{port.tap}')
    body.append(f"iifname {_names(tenant)} icmp type echo-request accept")
    body.append(f"iifname {_names(tenant)} drop")
    return body


def _output(state: NodeState, tenant: list[str]) -> list[str]:
    if not tenant:
        return []
    body = ["ct state established,related accept",
            f"oifname {_names(tenant)} udp sport 67 udp dport 68 accept"]
    for port in _ordered_ports(state):
        bridge = state.network(port.network_id).bridge
        body.append(f'oifname "{bridge}" ip daddr {port.fixed_ip} jump in-{port.tap}')
    return body


def inet_table(state: NodeState) -> list[str]:
    """`table inet brume`: filter hooks, per-port chains and the NAT chains."""
    tenant = sorted(n.bridge for n in state.networks if not n.external)
    nat = plan_nat(state)
    lines = [f"table inet {TABLE} {{"]
    hooks = [
        ("forward", _forward(state, tenant), "type filter hook forward priority filter;"),
        ("input", _input(state, tenant), "type filter hook input priority filter;"),
        ("output", _output(state, tenant), "type filter hook output priority filter;"),
    ]
    for name, body, hook in hooks:
        lines += _chain(name, body, hook + " policy accept;")
    for port in _ordered_ports(state):
        for direction, prefix in (("egress", "out"), ("ingress", "in")):
            matches = port_rule_matches(state, port, direction)
            lines += _chain(f"{prefix}-{port.tap}", [f"{m} return" for m in matches] + ["drop"])
    lines += _chain("nat-prerouting", list(nat.prerouting),
                    "type nat hook prerouting priority dstnat; policy accept;")
    lines += _chain("nat-output", list(nat.output),
                    "type nat hook output priority -100; policy accept;")
    lines += _chain("nat-postrouting", list(nat.postrouting),
                    "type nat hook postrouting priority srcnat; policy accept;")
    return lines + ["}"]


def render_ruleset(state: NodeState) -> str:
    """The whole file for `nft -f`: both tables removed and recreated in one transaction."""
    if not state.networks:
        return empty_ruleset()
    return (empty_ruleset() + "\n".join(inet_table(state)) + "\n"
            + "\n".join(bridge_table(state)) + "\n")

