"""The datapath on real kernel parts: bridges, dnsmasq, nftables, veth "VMs", in namespaces.

Each test gets a fresh node namespace (`brume-t<random>`, see conftest) with the datapath
aimed at it, and one namespace per stand-in VM; all traffic stays inside those namespaces
and uses private (10/8) or documentation (203.0.113.0/24) addresses.
"""
from __future__ import annotations

import dataclasses
import os

import pytest

from network.datapath.dnsmasq import files_for, running_pid
from network.datapath.errors import DatapathError
from network.datapath.model import (
    FloatingIP,
    Network,
    NodeState,
    Port,
    Rule,
    SecurityGroup,
)

NET_A = Network("net-a", "10.0.0.0/24", "10.0.0.1", dns_servers=("10.0.0.53",), mtu=1450)
NET_B = Network("net-b", "10.1.0.0/24", "10.1.0.1")
EXT = Network("ext-net", "203.0.113.0/24", "203.0.113.1", dhcp=False, external=True)
DEFAULT_A = SecurityGroup.neutron_default("default-a")
DEFAULT_B = SecurityGroup.neutron_default("default-b")
WEB = SecurityGroup("web", (Rule("ingress", "tcp", 80, 80),))
P1 = Port("port-one", "net-a", "fa:16:3e:00:00:05", "10.0.0.5", ("default-a",))
P2 = Port("port-two", "net-a", "fa:16:3e:00:00:06", "10.0.0.17", ("default-a",))
P3 = Port("port-three", "net-b", "fa:16:3e:00:01:05", "10.1.0.9", ("default-b",))


def state(networks=(NET_A,), ports=(P1,), groups=(DEFAULT_A,), fips=()) -> NodeState:
    return NodeState(tuple(networks), tuple(ports), tuple(groups), tuple(fips))


def plug(node, port: Port, network: Network):
    return node.vm(port.tap, port.mac, network.bridge)


def test_vm_gets_by_dhcp_exactly_its_planned_address(node):
    node.datapath.apply(state())
    vm1 = plug(node, P1, NET_A)
    lease = vm1.dhcp()
    assert lease["ip"] == "10.0.0.5" and lease["mask"] == "24"
    assert lease["router"] == "10.0.0.1" and lease["dns"] == "10.0.0.53"
    assert lease["mtu"] == "1450" and lease["hostname"] == "host-10-0-0-5"
    # A port added later: the running dnsmasq re-reads its host file (same process).
    pid = running_pid(files_for(node.state_dir, "net-a"))
    node.datapath.apply(state(ports=(P1, P2)))
    assert running_pid(files_for(node.state_dir, "net-a")) == pid
    assert plug(node, P2, NET_A).dhcp()["ip"] == "10.0.0.17"
    # A MAC with no port gets nothing.
    stranger = node.vm("tapstranger", "fa:16:3e:99:99:99", NET_A.bridge)
    result = stranger.run("busybox", "udhcpc", "-i", "eth0", "-n", "-q", "-t", "2", "-T", "1",
                          "-s", "/bin/true", check=False)
    assert result.returncode != 0
    # Nor does it reach anything with an address of its own choosing.
    stranger.configure("10.0.0.50", 24, "10.0.0.1")
    assert not stranger.ping("10.0.0.1")
    assert not stranger.ping("10.0.0.5")
    assert vm1.ping("10.0.0.1")


def test_port_80_closed_from_the_node_until_a_rule_opens_it(node):
    node.datapath.apply(state())
    vm1 = plug(node, P1, NET_A)
    vm1.dhcp()
    vm1.listen(80, "vm1")
    assert node.netns.connect("10.0.0.5", 80) is None
    assert not node.netns.ping("10.0.0.5")
    p1_web = dataclasses.replace(P1, security_group_ids=("default-a", "web"))
    elsewhere = SecurityGroup("web", (Rule("ingress", "tcp", 80, 80,
                                           remote_ip_prefix="192.0.2.0/24"),))
    node.datapath.apply(state(ports=(p1_web,), groups=(DEFAULT_A, elsewhere)))
    assert node.netns.connect("10.0.0.5", 80) is None
    node.datapath.apply(state(ports=(p1_web,), groups=(DEFAULT_A, WEB)))
    assert node.netns.connect("10.0.0.5", 80) == "vm1"
    node.datapath.apply(state())
    assert node.netns.connect("10.0.0.5", 80) is None


def test_removing_a_rule_cuts_a_flow_it_let_in(node):
    dns_in = SecurityGroup("dns-in", (Rule("ingress", "udp", 53, 53),))
    p1_dns = dataclasses.replace(P1, security_group_ids=("default-a", "dns-in"))
    node.datapath.apply(state(ports=(p1_dns,), groups=(DEFAULT_A, dns_in)))
    vm1 = plug(node, P1, NET_A)
    vm1.dhcp()
    vm1.udp_echo(53)
    assert node.netns.udp_exchange("10.0.0.5", 53, 40053)
    node.datapath.apply(state())
    assert not node.netns.udp_exchange("10.0.0.5", 53, 40053)


def test_same_group_vms_talk_and_another_tenant_cannot_reach_them(node):
    everyone_web = SecurityGroup("web", (Rule("ingress", "tcp", 80, 80,
                                              remote_ip_prefix="0.0.0.0/0"),))
    p1_web = dataclasses.replace(P1, security_group_ids=("default-a", "web"))
    node.datapath.apply(state(networks=(NET_A, NET_B), ports=(p1_web, P2, P3),
                              groups=(DEFAULT_A, DEFAULT_B, everyone_web)))
    vm1, vm2 = plug(node, p1_web, NET_A), plug(node, P2, NET_A)
    vm3 = plug(node, P3, NET_B)
    for vm in (vm1, vm2, vm3):
        vm.dhcp()
    vm1.listen(80, "vm1")
    vm1.listen(8080, "vm1-8080")
    vm2.listen(8080, "vm2-8080")
    assert vm2.connect("10.0.0.5", 8080) == "vm1-8080"
    assert vm1.connect("10.0.0.17", 8080) == "vm2-8080"
    assert vm1.ping("10.0.0.17")
    # The other tenant: routed by the node, refused although vm1's port 80 is open to all.
    assert vm3.ping("10.1.0.1")
    assert vm3.connect("10.0.0.5", 80) is None
    assert vm3.connect("10.0.0.5", 8080) is None
    assert not vm3.ping("10.0.0.17")
    # The VMs reach the node only for DHCP and ping.
    node.netns.listen(2222, "node")
    assert vm1.ping("10.0.0.1")
    assert vm1.connect("10.0.0.1", 2222) is None


def test_egress_is_only_what_the_groups_allow(node):
    open_in = SecurityGroup("open-in", (Rule("ingress"),))
    only_dns_out = SecurityGroup("dns-out", (Rule("egress", "udp", 53, 53),))
    p1 = dataclasses.replace(P1, security_group_ids=("open-in",))
    p2 = dataclasses.replace(P2, security_group_ids=("open-in", "dns-out"))
    node.datapath.apply(state(ports=(p1, p2), groups=(open_in, only_dns_out)))
    vm1, vm2 = plug(node, p1, NET_A), plug(node, p2, NET_A)
    vm1.dhcp()
    vm2.dhcp()  # DHCP needs no rule
    vm1.listen(8080, "vm1")
    vm1.udp_echo(53)
    assert vm2.udp_exchange("10.0.0.5", 53, 40053)
    assert vm2.connect("10.0.0.5", 8080) is None
    vm2.listen(8081, "vm2")
    assert vm1.connect("10.0.0.17", 8081) is None  # vm1 has no egress rule at all
    assert not vm1.ping("10.0.0.1")


def test_a_vm_cannot_send_from_an_address_or_mac_not_its_own(node):
    node.datapath.apply(state(ports=(P1, P2)))
    vm1, vm2 = plug(node, P1, NET_A), plug(node, P2, NET_A)
    vm1.dhcp()
    vm2.dhcp()
    vm1.listen(8080, "vm1")
    assert vm2.connect("10.0.0.5", 8080) == "vm1"
    vm2.run("ip", "addr", "add", "10.0.0.99/24", "dev", "eth0")
    vm2.run("ip", "addr", "del", "10.0.0.17/24", "dev", "eth0")
    assert vm2.connect("10.0.0.5", 8080) is None
    vm2.run("ip", "addr", "replace", "10.0.0.17/24", "dev", "eth0")
    vm2.run("ip", "link", "set", "eth0", "address", "fa:16:3e:00:00:77")
    assert vm2.connect("10.0.0.5", 8080) is None


def test_floating_ip_reaches_the_vm_until_disassociated(node):
    p1_web = dataclasses.replace(P1, security_group_ids=("default-a", "web"))
    fip = FloatingIP("203.0.113.10", "ext-net", "port-one")
    base = dict(networks=(NET_A, EXT), ports=(p1_web,), groups=(DEFAULT_A, WEB))
    node.datapath.apply(state(**base, fips=(fip,)))
    vm1 = plug(node, p1_web, NET_A)
    vm1.dhcp()
    vm1.listen(80, "vm1")
    outside = node.vm("vethoutside", "02:00:00:00:aa:01", EXT.bridge)
    outside.configure("203.0.113.50", 24, "203.0.113.1")
    assert outside.connect("203.0.113.10", 80) == "vm1"
    # The fixed address itself is not routed in from outside.
    assert outside.connect("10.0.0.5", 80) is None
    # The VM's own connections out leave from its floating address.
    outside.listen(8000, "outside")
    assert vm1.connect("203.0.113.50", 8000) == "outside"
    # A neighbour on the same network reaches it by its floating IP too (hairpin).
    node.datapath.apply(state(**{**base, "ports": (p1_web, P2)}, fips=(fip,)))
    vm2 = plug(node, P2, NET_A)
    vm2.dhcp()
    assert vm2.connect("203.0.113.10", 80) == "vm1"
    assert vm2.connect("203.0.113.10", 80) == "vm1"
    web_udp = SecurityGroup("web", (Rule("ingress", "tcp", 80, 80), Rule("ingress", "udp")))
    base["ports"] = (p1_web, P2)
    node.datapath.apply(state(**{**base, "groups": (DEFAULT_A, web_udp)}, fips=(fip,)))
    vm1.udp_echo(7)
    assert outside.udp_exchange("203.0.113.10", 7, 40007)
    node.datapath.apply(state(**{**base, "groups": (DEFAULT_A, web_udp)}))
    assert outside.connect("203.0.113.10", 80) is None
    # The tracked flow of the floating IP is forgotten too, not only new connections.
    assert not outside.udp_exchange("203.0.113.10", 7, 40007)
    assert "203.0.113.10" not in node.netns.run("ip", "-4", "addr", "show").stdout


def test_a_failing_command_is_one_datapath_error(node):
    runner = node.datapath.runner
    with pytest.raises(DatapathError) as caught:
        runner.run(["ip", "link", "del", "dev", "brqnosuchdev"])
    assert caught.value.command[-4:] == ["ip", "link", "del", "dev", "brqnosuchdev"][-4:]
    assert "brqnosuchdev" in str(caught.value) and "\n" not in caught.value.detail
    assert caught.value.detail


def _dnsmasq_pids(node) -> list[int]:
    found = []
    for pid in node.netns.pids():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if handle.read().split(b"\0")[0].endswith(b"dnsmasq"):
                    found.append(pid)
        except OSError:
            pass
    return found


def test_removing_a_network_leaves_nothing_of_it(node):
    full = state(networks=(NET_A, NET_B), ports=(P1, P3), groups=(DEFAULT_A, DEFAULT_B))
    node.datapath.apply(full)
    pids = sorted(_dnsmasq_pids(node))
    rules = node.netns.run("nft", "list", "ruleset").stdout
    node.datapath.apply(full)  # idempotent: same processes, same rules
    assert len(pids) == 2 and sorted(_dnsmasq_pids(node)) == pids
    assert node.netns.run("nft", "list", "ruleset").stdout == rules
    a_pid = running_pid(files_for(node.state_dir, "net-a"))
    node.datapath.apply(state())
    links = node.netns.run("ip", "-o", "link", "show").stdout
    rules = node.netns.run("nft", "list", "ruleset").stdout
    assert NET_B.bridge not in links and NET_A.bridge in links
    assert _dnsmasq_pids(node) == [a_pid]
    assert NET_B.bridge not in rules and P3.tap not in rules and "10.1.0." not in rules
    assert not os.path.exists(files_for(node.state_dir, "net-b").directory)
    node.datapath.remove_all()
    assert "type bridge" not in node.netns.run("ip", "-d", "link", "show", "type",
                                               "bridge").stdout
    assert NET_A.bridge not in node.netns.run("ip", "-o", "link", "show").stdout
    assert _dnsmasq_pids(node) == []
    assert node.netns.run("nft", "list", "ruleset").stdout.strip() == ""
