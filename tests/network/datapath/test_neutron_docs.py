"""Neutron documents (as the network API renders them) -> the NodeState of one host."""
from __future__ import annotations

import pytest

from network.datapath.model import FloatingIP, Rule
from network.datapath.neutron_docs import node_state
from network.datapath.ruleset import render_ruleset

NETWORKS = [
    {"id": "net-a", "mtu": 1450, "router:external": False},
    {"id": "net-b", "mtu": 1500, "router:external": False},
    {"id": "public", "mtu": 1500, "router:external": True},
]
SUBNETS = [
    {"id": "sub-a", "network_id": "net-a", "ip_version": 4, "cidr": "10.0.0.0/24",
     "gateway_ip": "10.0.0.1", "enable_dhcp": True, "dns_nameservers": ["10.0.0.53"]},
    {"id": "sub-a6", "network_id": "net-a", "ip_version": 6, "cidr": "fd00::/64",
     "gateway_ip": "fd00::1", "enable_dhcp": True, "dns_nameservers": []},
    {"id": "sub-b", "network_id": "net-b", "ip_version": 4, "cidr": "10.1.0.0/24",
     "gateway_ip": "10.1.0.1", "enable_dhcp": False, "dns_nameservers": []},
    {"id": "sub-pub", "network_id": "public", "ip_version": 4, "cidr": "203.0.113.0/24",
     "gateway_ip": "203.0.113.1", "enable_dhcp": False, "dns_nameservers": []},
]


def _port(ident, network, subnet, address, host="hv1", owner="compute:nova",
          groups=("default",), mac=None):
    return {"id": ident, "network_id": network, "binding:host_id": host,
            "device_owner": owner, "admin_state_up": True,
            "mac_address": mac or "FA:16:3E:00:00:%02X" % int(address.split(".")[-1]),
            "fixed_ips": [{"subnet_id": subnet, "ip_address": address}],
            "security_groups": list(groups)}


def _rule(direction, protocol=None, low=None, high=None, prefix=None, group=None,
          ethertype="IPv4"):
    return {"direction": direction, "protocol": protocol, "port_range_min": low,
            "port_range_max": high, "remote_ip_prefix": prefix, "remote_group_id": group,
            "ethertype": ethertype}


GROUPS = [
    {"id": "default", "security_group_rules": [
        _rule("egress"), _rule("egress", ethertype="IPv6"), _rule("ingress", group="default"),
        _rule("ingress", ethertype="IPv6", group="default")]},
    {"id": "web", "security_group_rules": [
        _rule("ingress", "tcp", 80, 80, "0.0.0.0/0"), _rule("ingress", "6", 443, None),
        _rule("ingress", "icmp", 8, None, "192.0.2.9/24"), _rule("ingress", "sctp"),
        _rule("ingress", "tcp", 22, 22, group="admins")]},
    {"id": "admins", "security_group_rules": []},
    {"id": "unused", "security_group_rules": [_rule("ingress")]},
]
PORTS = [
    _port("p1", "net-a", "sub-a", "10.0.0.5", groups=("default", "web")),
    _port("p2", "net-a", "sub-a", "10.0.0.6", host="hv2"),
    _port("p3", "net-b", "sub-b", "10.1.0.7", groups=()),
    _port("dhcp", "net-a", "sub-a", "10.0.0.2", owner="network:dhcp", groups=()),
    _port("admin-box", "net-b", "sub-b", "10.1.0.9", host="hv3", groups=("admins",)),
]
FIPS = [
    {"floating_ip_address": "203.0.113.10", "floating_network_id": "public", "port_id": "p1"},
    {"floating_ip_address": "203.0.113.11", "floating_network_id": "public", "port_id": "p2"},
    {"floating_ip_address": "203.0.113.12", "floating_network_id": "public", "port_id": None},
]


def test_a_hosts_state_from_the_documents():
    state = node_state("hv1", NETWORKS, SUBNETS, PORTS, GROUPS, FIPS,
                       external_access=frozenset({"net-b"}))
    assert [p.id for p in state.ports] == ["p1", "p3"]
    assert state.port("p1").mac == "fa:16:3e:00:00:05"
    assert [n.id for n in state.networks] == ["net-a", "net-b", "public"]
    net_a, net_b, public = state.networks
    assert (net_a.cidr, net_a.mtu, net_a.dns_servers, net_a.dhcp) == \
        ("10.0.0.0/24", 1450, ("10.0.0.53",), True)
    assert not net_b.dhcp and net_b.external_access and public.external
    assert state.floating_ips == (FloatingIP("203.0.113.10", "public", "p1"),)
    assert [g.id for g in state.security_groups] == ["admins", "default", "web"]
    assert state.group("web").rules == (
        Rule("ingress", "tcp", 80, 80, "0.0.0.0/0"), Rule("ingress", "tcp", 443, 443),
        Rule("ingress", "icmp", 8, None, "192.0.2.0/24"),
        Rule("ingress", "tcp", 22, 22, remote_group_id="admins"))
    assert state.group("default").rules == (Rule("egress"),
                                            Rule("ingress", remote_group_id="default"))
    # Members elsewhere: p2 (hv2) for default, admin-box (hv3) for admins.
    assert state.group_member_ips("default") == ["10.0.0.5", "10.0.0.6"]
    assert state.group_member_ips("admins") == ["10.1.0.9"]
    assert "tcp dport 22 ip saddr { 10.1.0.9 } return" in render_ruleset(state)


def test_nothing_on_an_idle_host():
    state = node_state("hv9", NETWORKS, SUBNETS, PORTS, GROUPS, FIPS)
    assert state.networks == () and state.ports == ()
    assert render_ruleset(state).count("delete table") == 2


def test_a_port_on_a_second_subnet_of_the_same_network_is_refused():
    subnets = SUBNETS + [{"id": "sub-a2", "network_id": "net-a", "ip_version": 4,
                          "cidr": "10.0.1.0/24", "gateway_ip": "10.0.1.1"}]
    ports = PORTS + [_port("p9", "net-a", "sub-a2", "10.0.1.5")]
    with pytest.raises(ValueError, match="two IPv4 subnets"):
        node_state("hv1", NETWORKS, subnets, ports, GROUPS, [])
