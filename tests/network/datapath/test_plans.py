"""Properties of the pure plans: nftables ruleset, dnsmasq host file and argv, NAT, flows."""
from __future__ import annotations

import dataclasses
import re

from hypothesis import given, settings

from network.datapath.conntrack_plan import policy_fingerprints, stale_addresses
from network.datapath.dhcp_plan import DhcpFiles, dhcp_networks, dnsmasq_argv, host_lines
from network.datapath.model import Network, NodeState, Port, Rule, SecurityGroup
from network.datapath.nat_plan import floating_addresses, plan_nat
from network.datapath.ruleset import empty_ruleset, render_ruleset
from tests.network.datapath.strategies import node_states


def _chain(text: str, name: str) -> list[str]:
    match = re.search(rf"\tchain {re.escape(name)} {{\n(.*?)\n\t}}", text, re.S)
    assert match, name
    return [line.strip() for line in match.group(1).splitlines()]


def _shuffled(state: NodeState) -> NodeState:
    return NodeState(tuple(reversed(state.networks)), tuple(reversed(state.ports)),
                     tuple(reversed(state.security_groups)),
                     tuple(reversed(state.floating_ips)))


@given(node_states())
def test_ruleset_is_a_function_of_the_state_not_its_order(state):
    assert render_ruleset(state) == render_ruleset(_shuffled(state))


@given(node_states())
def test_ruleset_replaces_both_tables_in_one_file(state):
    text = render_ruleset(state)
    assert text.startswith(empty_ruleset())
    assert text.count("table inet brume {\n") == 1 and text.count("table bridge brume {\n") == 1


@given(node_states())
def test_every_port_is_bound_to_its_own_mac_and_ip(state):
    text = render_ruleset(state)
    for port in state.ports:
        spoof = _chain(text, f"spoof-{port.tap}")
        assert f"ether saddr != {port.mac} drop" in spoof
        assert f"ether type ip ip saddr != {port.fixed_ip} drop" in spoof
        assert spoof[-2:] == ["ether type != { ip, arp } drop", "accept"]
        others = {p.mac for p in state.ports if p.id != port.id}
        assert not any(mac in line for line in spoof for mac in others)
        assert f'iifname "{port.tap}" jump spoof-{port.tap}' in _chain(text, "prerouting")
    assert _chain(text, "prerouting")[-1] == 'iifname "tap*" drop'


@given(node_states())
def test_port_chains_allow_only_what_rules_say_and_end_in_drop(state):
    text = render_ruleset(state)
    for port in state.ports:
        for prefix, direction in (("in", "ingress"), ("out", "egress")):
            chain = _chain(text, f"{prefix}-{port.tap}")
            assert chain[-1] == "drop"
            assert all(line.endswith(" return") for line in chain[:-1])
            rules = [r for g in port.security_group_ids for r in state.group(g).rules
                     if r.direction == direction]
            assert len(chain) - 1 <= len(rules)
            if not rules:
                assert chain == ["drop"]


@given(node_states())
def test_established_first_and_tenant_bridges_isolated(state):
    text = render_ruleset(state)
    forward = _chain(text, "forward")
    assert forward[1:3] == ["ct state established,related accept", "ct state invalid drop"]
    tenant = sorted(n.bridge for n in state.networks if not n.external)
    names = "{ " + ", ".join(f'"{b}"' for b in tenant) + " }"
    assert forward[-2:] == [f"iifname {names} drop", f"oifname {names} drop"]
    assert forward.index("ct status dnat accept") < len(forward) - 2
    for port in state.ports:
        bridge = state.network(port.network_id).bridge
        out_jump = f'iifname "{bridge}" ip saddr {port.fixed_ip} jump out-{port.tap}'
        in_jump = f'oifname "{bridge}" ip daddr {port.fixed_ip} jump in-{port.tap}'
        assert out_jump in forward and in_jump in forward
        assert out_jump in _chain(text, "input") and in_jump in _chain(text, "output")


@given(node_states())
def test_nat_has_one_dnat_and_one_snat_per_floating_ip(state):
    nat = plan_nat(state)
    assert nat.prerouting == nat.output
    assert len(nat.prerouting) == len(state.floating_ips)
    for fip in state.floating_ips:
        port = state.port(fip.port_id)
        assert f"ip daddr {fip.floating_ip} dnat ip to {port.fixed_ip}" in nat.prerouting
        snat = [s for s in nat.postrouting if s.endswith(f"snat ip to {fip.floating_ip}")]
        assert snat == [f'ip saddr {port.fixed_ip} oifname != '
                        f'"{state.network(port.network_id).bridge}" '
                        f"snat ip to {fip.floating_ip}"]
    masquerades = [s for s in nat.postrouting
                   if s.endswith("masquerade") and not s.startswith("ct status dnat")]
    assert len(masquerades) == sum(n.external_access for n in state.networks)
    assert sorted(a for v in floating_addresses(state).values() for a in v) == \
        sorted(f.floating_ip for f in state.floating_ips)


@given(node_states())
def test_host_file_has_exactly_the_networks_ports(state):
    for network in state.networks:
        lines = host_lines(state, network.id)
        expected = sorted((p.id, f"{p.mac},{p.fixed_ip},{p.dhcp_hostname}")
                          for p in state.ports if p.network_id == network.id)
        assert lines == [line for _, line in expected]
    assert all(n.dhcp and not n.external for n in dhcp_networks(state))


@given(node_states())
def test_dnsmasq_serves_only_its_bridge_and_only_static_leases(state):
    for network in dhcp_networks(state):
        argv = dnsmasq_argv(network, DhcpFiles("/state/dhcp/" + network.id))
        assert f"--interface={network.bridge}" in argv
        assert {"--bind-interfaces", "--except-interface=lo", "--port=0"} <= set(argv)
        ranges = [a for a in argv if a.startswith("--dhcp-range=")]
        assert ranges == [f"--dhcp-range=set:{network.bridge},{network.cidr.split('/')[0]},"
                          f"static,{network.netmask},12h"]
        assert "--dhcp-hostsfile=/state/dhcp/" + network.id + "/hosts" in argv


@given(node_states())
def test_flows_forgotten_exactly_when_policy_changes(state):
    before = policy_fingerprints(state)
    assert stale_addresses(before, policy_fingerprints(_shuffled(state))) == []
    if not state.ports:
        return
    gone = state.ports[0]
    fewer = NodeState(state.networks, state.ports[1:], state.security_groups,
                      tuple(f for f in state.floating_ips if f.port_id != gone.id))
    assert gone.fixed_ip in stale_addresses(before, policy_fingerprints(fewer))
    if gone.security_group_ids:
        group = state.group(gone.security_group_ids[0])
        extra = Rule("ingress", "tcp", 65535, 65535, remote_ip_prefix="192.0.2.77/32")
        groups = tuple(dataclasses.replace(g, rules=g.rules + (extra,)) if g.id == group.id
                       else g for g in state.security_groups)
        changed = NodeState(state.networks, state.ports, groups, state.floating_ips)
        assert gone.fixed_ip in stale_addresses(before, policy_fingerprints(changed))


@settings(max_examples=20, deadline=None)
@given(node_states())
def test_empty_group_rule_matches_nothing(state):
    lonely = SecurityGroup("lonely", (Rule("ingress", remote_group_id="lonely"),))
    grown = NodeState(state.networks, state.ports, state.security_groups + (lonely,),
                      state.floating_ips)
    assert render_ruleset(grown) == render_ruleset(state)


def test_members_on_other_nodes_are_admitted_by_same_group_rules():
    group = SecurityGroup.neutron_default("sg")
    state = NodeState((Network("n", "10.0.0.0/24", "10.0.0.1"),),
                      (Port("p", "n", "fa:16:3e:00:00:05", "10.0.0.5", ("sg",)),), (group,),
                      remote_members={"sg": frozenset({"10.0.0.200", "10.0.0.30"})})
    chain = _chain(render_ruleset(state), "in-tapp")
    assert chain == ["meta nfproto ipv4 ip saddr { 10.0.0.5, 10.0.0.30, 10.0.0.200 } return",
                     "drop"]
