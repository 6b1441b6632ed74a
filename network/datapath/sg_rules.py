"""Security group rules as nftables match expressions (pure).

A rule becomes the match part of one nft statement; the per-port chains in
`network.datapath.ruleset` end each match with `return` (allowed: the caller goes on) and
the chain itself with `drop`. The remote side is the packet's source for an ingress rule
and its destination for an egress rule.
"""
from __future__ import annotations

from network.datapath.model import NodeState, Rule


def remote_match(rule: Rule, state: NodeState) -> str | None:
    """The address match of the rule's remote side; None when it can match nothing."""
    side = "saddr" if rule.direction == "ingress" else "daddr"
    if rule.remote_group_id is not None:
        members = state.group_member_ips(rule.remote_group_id)
        if not members:
            return None
        return f"ip {side} {{ {', '.join(members)} }}"
    if rule.remote_ip_prefix is not None and rule.remote_ip_prefix != "0.0.0.0/0":
        return f"ip {side} {rule.remote_ip_prefix}"
    return ""


def protocol_match(rule: Rule) -> str:
    """The protocol and port (or ICMP type/code) match of a rule (any protocol: any IPv4)."""
    if rule.protocol == "any":
        return "meta nfproto ipv4"
    if rule.protocol == "icmp":
        parts = ["meta l4proto icmp"]
        if rule.port_min is not None:
            parts.append(f"icmp type {rule.port_min}")
        if rule.port_max is not None:
            parts.append(f"icmp code {rule.port_max}")
        return " ".join(parts)
    if rule.port_min is None:
        return f"meta l4proto {rule.protocol}"
    if rule.port_min == rule.port_max:
        return f"{rule.protocol} dport {rule.port_min}"
    return f"{rule.protocol} dport {rule.port_min}-{rule.port_max}"


def rule_match(rule: Rule, state: NodeState) -> str | None:
    """The whole match of a rule, or None when it matches nothing (an empty remote group)."""
    remote = remote_match(rule, state)
    if remote is None:
        return None
    return " ".join(part for part in (protocol_match(rule), remote) if part)
