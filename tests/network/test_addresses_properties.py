"""Property tests of the pure address logic (`network.addresses`) and of the rules and MACs:
allocation never gives an address twice, never outside the pools, never the gateway, and
uses every pool address before reporting exhaustion; pools and overlaps agree with set
arithmetic on the addresses themselves."""
from __future__ import annotations

import ipaddress
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from network import addresses, macs, sg_rules
from network.errors import NeutronError

SETTINGS = settings(max_examples=150, deadline=None, database=None)


@st.composite
def small_subnets(draw):
    prefix = draw(st.integers(min_value=24, max_value=30))
    base = draw(st.integers(min_value=0, max_value=2**32 - 1)) >> (32 - prefix) << (32 - prefix)
    return ipaddress.ip_network(f"{ipaddress.IPv4Address(base)}/{prefix}")


@st.composite
def layouts(draw):
    net = draw(small_subnets())
    first, last = addresses.host_range(net)
    cuts = sorted(draw(st.sets(st.integers(first, last), min_size=1, max_size=6)))
    pools, start = [], None
    for point in cuts:  # disjoint pools drawn from cut points
        if start is None:
            start = point
        else:
            pools.append({"start": str(ipaddress.IPv4Address(start)),
                          "end": str(ipaddress.IPv4Address(point))})
            start = None
    if not pools:
        pools = None
    gateway = draw(st.one_of(st.none(), st.integers(first, last)))
    gateway_text = None if gateway is None else str(ipaddress.IPv4Address(gateway))
    try:
        return addresses.subnet_layout(net, gateway_text, pools)
    except NeutronError as exc:
        assert exc.status == 409 and exc.kind == "GatewayConflictWithAllocationPools"
        return addresses.subnet_layout(net, None, pools)


@SETTINGS
@given(layout=layouts(), data=st.data())
def test_allocation_never_repeats_never_leaves_the_pools_never_takes_the_gateway(layout, data):
    pool_addresses = {a for start, end in layout.pools for a in range(start, end + 1)}
    pre = data.draw(st.sets(st.sampled_from(sorted(pool_addresses)), max_size=5)) \
        if pool_addresses else set()
    allocated = set(pre)
    given_out = []
    while True:
        address = addresses.next_free(layout.pools, layout.gateway, allocated)
        if address is None:
            break
        assert address not in allocated
        assert addresses.in_pools(layout.pools, address)
        assert address != layout.gateway
        assert addresses.is_host(layout.cidr, address)
        allocated.add(address)
        given_out.append(address)
    assert len(given_out) == len(set(given_out))
    assert allocated | {layout.gateway} >= pool_addresses
    assert len(given_out) == addresses.pool_size(layout.pools, layout.gateway) - \
        len(pre - {layout.gateway})


@SETTINGS
@given(net=small_subnets(), gateway_given=st.booleans())
def test_default_pools_cover_every_host_but_the_gateway(net, gateway_given):
    layout = addresses.subnet_layout(net, None, None, gateway_given=not gateway_given)
    first, last = addresses.host_range(net)
    hosts = set(range(first, last + 1))
    pooled = {a for start, end in layout.pools for a in range(start, end + 1)}
    assert pooled == hosts - {layout.gateway}
    assert int(net.network_address) not in pooled or net.prefixlen >= 31


@SETTINGS
@given(layout=layouts())
def test_pools_are_ordered_and_disjoint(layout):
    for (_, end_a), (start_b, _) in zip(layout.pools, layout.pools[1:], strict=False):
        assert end_a < start_b


@SETTINGS
@given(net=small_subnets(), a=st.integers(0, 255), b=st.integers(0, 255))
def test_overlapping_pools_are_refused(net, a, b):
    first, last = addresses.host_range(net)
    lo, hi = sorted((first + a % (last - first + 1), first + b % (last - first + 1)))
    pools = [{"start": str(ipaddress.IPv4Address(lo)), "end": str(ipaddress.IPv4Address(hi))},
             {"start": str(ipaddress.IPv4Address(hi)), "end": str(ipaddress.IPv4Address(hi))}]
    with pytest.raises(NeutronError) as caught:
        addresses.parse_pools(net, pools)
    assert caught.value.status == 409


@SETTINGS
@given(a=small_subnets(), b=small_subnets())
def test_overlap_agrees_with_the_address_sets(a, b):
    shared = set(range(int(a.network_address), int(a.broadcast_address) + 1)) & \
        set(range(int(b.network_address), int(b.broadcast_address) + 1))
    assert (addresses.overlapping(a, [str(b)]) is not None) == bool(shared)
    assert (addresses.overlapping(b, [str(a)]) is not None) == bool(shared)


@SETTINGS
@given(text=st.text(max_size=30))
def test_parse_cidr_refuses_garbage_with_a_400(text):
    try:
        net = addresses.parse_cidr(text)
    except NeutronError as exc:
        assert exc.status == 400
    else:
        assert str(net) == text.strip()


@pytest.mark.parametrize("cidr", ["10.0.0.1/24", "10.0.0.0/33", "10.0.0/24", "10.0.0.0",
                                  "fd00::/64", "0.0.0.0/0", "", "x/24"])
def test_malformed_cidrs(cidr):
    with pytest.raises(NeutronError) as caught:
        addresses.parse_cidr(cidr)
    assert caught.value.status == 400


@SETTINGS
@given(layout=layouts(), offset=st.integers(0, 2**10))
def test_check_fixed_ip_refuses_the_gateway_and_non_hosts(layout, offset):
    address = int(layout.cidr.network_address) + offset % layout.cidr.num_addresses
    try:
        addresses.check_fixed_ip(layout.cidr, layout.gateway, address, "s")
    except NeutronError:
        assert address == layout.gateway or not addresses.is_host(layout.cidr, address)
    else:
        assert address != layout.gateway and addresses.is_host(layout.cidr, address)


@SETTINGS
@given(prefix=st.binary(min_size=1, max_size=5), seed=st.integers())
def test_generated_macs_keep_the_prefix_and_are_valid(prefix, seed):
    prefix = bytes([prefix[0] & 0xFE]) + prefix[1:]
    mac = macs.generate(prefix, random.Random(seed).randbytes)
    assert mac.startswith(":".join(f"{octet:02x}" for octet in prefix))
    assert len(mac.split(":")) == 6
    assert macs.normalize(mac.upper()) == mac or mac == "00:00:00:00:00:00"


RULE_FIELDS = {"direction": st.sampled_from(["ingress", "egress", "sideways", None]),
               "ethertype": st.sampled_from(["IPv4", "IPv6", "ipv4", "IPX"]),
               "protocol": st.one_of(st.none(), st.sampled_from(
                   ["tcp", "udp", "icmp", "6", "17", "1", "256", "any", "bogus", 6, True])),
               "port_range_min": st.one_of(st.none(), st.integers(-2, 70000)),
               "port_range_max": st.one_of(st.none(), st.integers(-2, 70000)),
               "remote_ip_prefix": st.one_of(st.none(), st.sampled_from(
                   ["0.0.0.0/0", "10.0.0.0/8", "10.0.0.1/8", "::/0", "bad"])),
               "remote_group_id": st.one_of(st.none(), st.just("g"))}


@SETTINGS
@given(doc=st.fixed_dictionaries({}, optional=RULE_FIELDS))
def test_rule_validation_is_a_400_or_a_consistent_rule(doc):
    try:
        rule = sg_rules.parse_rule(doc)
    except NeutronError as exc:
        assert exc.status == 400
        return
    assert rule["direction"] in ("ingress", "egress")
    assert not (rule["remote_ip_prefix"] and rule["remote_group_id"])
    low, high = rule["port_range_min"], rule["port_range_max"]
    if rule["proto_key"] in ("6", "17"):
        if low is not None or high is not None:
            assert 1 <= low <= high <= 65535
    elif low is not None or high is not None:
        assert rule["proto_key"] in ("1", "58")
    if rule["remote_ip_prefix"]:
        net = ipaddress.ip_network(rule["remote_ip_prefix"])
        assert f"IPv{net.version}" == rule["ethertype"]


def test_tcp_by_name_and_by_number_are_the_same_rule():
    by_name = sg_rules.parse_rule({"direction": "ingress", "protocol": "tcp",
                                   "port_range_min": 22, "port_range_max": 22})
    by_number = sg_rules.parse_rule({"direction": "ingress", "protocol": "6",
                                     "port_range_min": 22, "port_range_max": 22})
    assert sg_rules.same_rule(by_name, by_number)


def test_default_group_rules_open_egress_and_ingress_from_members_only():
    rules = sg_rules.default_group_rules("g1")
    egress = [r for r in rules if r["direction"] == "egress"]
    ingress = [r for r in rules if r["direction"] == "ingress"]
    assert {r["ethertype"] for r in egress} == {"IPv4", "IPv6"}
    assert all(r["remote_group_id"] is None and r["remote_ip_prefix"] is None for r in egress)
    assert {r["ethertype"] for r in ingress} == {"IPv4", "IPv6"}
    assert all(r["remote_group_id"] == "g1" for r in ingress)
