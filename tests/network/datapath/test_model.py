"""The desired-state model: device names within Linux's limits, and what it refuses."""
from __future__ import annotations

import dataclasses
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from network.datapath.model import (
    FloatingIP,
    Network,
    NodeState,
    Port,
    Rule,
    SecurityGroup,
    bridge_name,
    tap_name,
)
from tests.network.datapath.strategies import EXTERNAL, node_states

NET = Network("net-a", "10.0.0.0/24", "10.0.0.1")
PORT = Port("port-a", "net-a", "fa:16:3e:00:00:05", "10.0.0.5", ("sg",))
GROUP = SecurityGroup.neutron_default("sg")
IDENT = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}", fullmatch=True)


@given(IDENT)
def test_device_names_fit_ifnamsiz_and_are_safe(ident):
    for name, prefix in ((bridge_name(ident), "brq"), (tap_name(ident), "tap")):
        assert len(name) <= 15 and name.startswith(prefix)
        assert re.fullmatch(r"[a-z0-9]+", name)


@given(st.uuids())
def test_uuid_names_keep_twelve_characters(uuid):
    assert bridge_name(str(uuid)) == "brq" + uuid.hex[:12]
    assert tap_name(str(uuid)) == "tap" + uuid.hex[:12]


@given(node_states())
def test_generated_states_are_consistent(state):
    assert len({n.bridge for n in state.networks}) == len(state.networks)
    for port in state.ports:
        for group in port.security_group_ids:
            assert port.fixed_ip in state.group_member_ips(group)


def _state(**changes) -> NodeState:
    base = dict(networks=(NET,), ports=(PORT,), security_groups=(GROUP,))
    base.update(changes)
    return NodeState(**base)


@pytest.mark.parametrize("changes, message", [
    ({"networks": (NET, Network("net-b", "10.0.0.128/25", "10.0.0.129"))}, "overlap"),
    ({"ports": (dataclasses.replace(PORT, fixed_ip="10.9.0.5"),)}, "not a free host"),
    ({"ports": (dataclasses.replace(PORT, fixed_ip="10.0.0.1"),)}, "not a free host"),
    ({"ports": (PORT, dataclasses.replace(PORT, id="port-b"))}, "duplicate MAC"),
    ({"ports": (dataclasses.replace(PORT, security_group_ids=("nope",)),)}, "not in the state"),
    ({"ports": (dataclasses.replace(PORT, network_id="net-x"),)}, "not in the state"),
    ({"networks": (NET, EXTERNAL),
      "floating_ips": (FloatingIP("203.0.113.1", "ext-net", "port-a"),)}, "not a free host"),
    ({"floating_ips": (FloatingIP("10.0.0.9", "net-a", "port-a"),)}, "not external"),
    ({"networks": (NET, Network("net-abcdefghijklmnop", "10.1.0.0/24", "10.1.0.1"),
                   Network("net-abcdefghijklmnoq", "10.2.0.0/24", "10.2.0.1"))},
     "duplicate bridge name"),
])
def test_inconsistent_states_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        _state(**changes)


@pytest.mark.parametrize("build", [
    lambda: Network("net a", "10.0.0.0/24", "10.0.0.1"),
    lambda: Network("n", "10.0.0.1/24", "10.0.0.1"),
    lambda: Network("n", "10.0.0.0/24", "10.0.1.1"),
    lambda: Network("n", "10.0.0.0/31", "10.0.0.1"),
    lambda: Network("n", "10.0.0.0/24", "10.0.0.1", mtu=100),
    lambda: Port("p", "n", "FA:16:3E:00:00:05", "10.0.0.5"),
    lambda: Port("p", "n", "01:16:3e:00:00:05", "10.0.0.5"),
    lambda: Port("p", "n", "fa:16:3e:00:00:05", "10.0.0.5", hostname="bad_name"),
    lambda: Rule("sideways"),
    lambda: Rule("ingress", "sctp"),
    lambda: Rule("ingress", "tcp", 80, None),
    lambda: Rule("ingress", "tcp", 90, 80),
    lambda: Rule("ingress", "any", 80, 80),
    lambda: Rule("ingress", "icmp", None, 0),
    lambda: Rule("ingress", ethertype="IPv6"),
    lambda: Rule("ingress", remote_ip_prefix="10.0.0.1/24"),
    lambda: Rule("ingress", remote_ip_prefix="10.0.0.0/24", remote_group_id="sg"),
])
def test_malformed_parts_are_refused(build):
    with pytest.raises(ValueError):
        build()


def test_neutron_default_group():
    group = SecurityGroup.neutron_default("sg")
    assert group.rules == (Rule("egress"), Rule("ingress", remote_group_id="sg"))
    assert PORT.dhcp_hostname == "host-10-0-0-5"
