"""Hypothesis strategies for the datapath's desired states (valid by construction)."""
from __future__ import annotations

import ipaddress

from hypothesis import strategies as st

from network.datapath.model import FloatingIP, Network, NodeState, Port, Rule, SecurityGroup

EXTERNAL = Network("ext-net", "203.0.113.0/24", "203.0.113.1", dhcp=False, external=True)
ids = st.uuids().map(str)


@st.composite
def rules(draw, group_ids: list[str]) -> Rule:
    direction = draw(st.sampled_from(["ingress", "egress"]))
    protocol = draw(st.sampled_from(["tcp", "udp", "icmp", "any"]))
    low = high = None
    if protocol in ("tcp", "udp") and draw(st.booleans()):
        low = draw(st.integers(1, 65535))
        high = draw(st.integers(low, 65535))
    elif protocol == "icmp" and draw(st.booleans()):
        low = draw(st.integers(0, 255))
        high = draw(st.none() | st.integers(0, 255))
    remote = draw(st.sampled_from(["none", "prefix", "group"]))
    prefix = group = None
    if remote == "prefix":
        prefix = str(ipaddress.IPv4Network((draw(st.integers(0, 2**32 - 1)),
                                            draw(st.integers(0, 32))), strict=False))
    elif remote == "group":
        group = draw(st.sampled_from(group_ids))
    return Rule(direction, protocol, low, high, prefix, group)


@st.composite
def node_states(draw, max_networks: int = 4, max_ports: int = 6) -> NodeState:
    count = draw(st.integers(1, max_networks))
    third = draw(st.lists(st.integers(0, 255), min_size=count, max_size=count, unique=True))
    networks = [
        Network(f"net{octet:03d}-{draw(ids)}", f"10.{octet}.0.0/24", f"10.{octet}.0.1",
                dhcp=draw(st.booleans()), mtu=draw(st.sampled_from([1400, 1450, 1500])),
                external_access=draw(st.booleans()))
        for octet in third
    ]
    group_ids = [f"sg-{draw(ids)}" for _ in range(draw(st.integers(1, 3)))]
    groups = [SecurityGroup(g, tuple(draw(st.lists(rules(group_ids), max_size=4))))
              for g in group_ids]
    hosts = draw(st.lists(st.tuples(st.sampled_from(networks), st.integers(2, 254)),
                          max_size=max_ports, unique_by=lambda t: (t[0].id, t[1])))
    ports = []
    for index, (network, host) in enumerate(hosts):
        octet = network.cidr.split(".")[1]
        member_of = tuple(draw(st.lists(st.sampled_from(group_ids), unique=True,
                                        max_size=2)))
        ports.append(Port(f"port-{index}-{draw(ids)}", network.id,
                          f"fa:16:3e:{index:02x}:{int(octet):02x}:{host:02x}",
                          f"10.{octet}.0.{host}", member_of))
    floating = []
    with_fip = draw(st.lists(st.sampled_from(ports), unique_by=lambda p: p.id)) if ports else []
    for index, port in enumerate(with_fip):
        floating.append(FloatingIP(f"203.0.113.{10 + index}", EXTERNAL.id, port.id))
    order = draw(st.permutations(networks + [EXTERNAL]))
    return NodeState(tuple(order), tuple(draw(st.permutations(ports))), tuple(groups),
                     tuple(floating))
