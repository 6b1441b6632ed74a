"""The pure scheduler: filters, weighers, and the no-overcommit property."""
from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from compute.scheduler import BuildRequest, HostState, Policy, eligible_hosts, select_host


def host(name, vcpus=4, memory_mb=4096, local_gb=40, **kw) -> HostState:
    return HostState(name=name, availability_zone=kw.pop("az", "nova"), vcpus=vcpus,
                     memory_mb=memory_mb, local_gb=local_gb, **kw)


TINY = BuildRequest(vcpus=1, memory_mb=512, local_gb=1)


def test_spread_picks_the_least_loaded_host():
    hosts = [host("a", memory_mb_used=2048), host("b", memory_mb_used=512), host("c",
             memory_mb_used=3072)]
    assert select_host(hosts, TINY, Policy()).name == "b"


def test_pack_picks_the_fullest_host_that_fits():
    hosts = [host("a", memory_mb_used=2048), host("b", memory_mb_used=512),
             host("c", memory_mb_used=3900)]
    assert select_host(hosts, TINY, Policy(weigher="pack")).name == "a"


def test_random_only_returns_eligible_hosts():
    hosts = [host("a"), host("b", enabled=False), host("c", alive=False)]
    rng = random.Random(4)
    picks = {select_host(hosts, TINY, Policy(weigher="random"), rng).name for _ in range(20)}
    assert picks == {"a"}


def test_disabled_dead_and_excluded_hosts_are_filtered():
    hosts = [host("a", enabled=False), host("b", alive=False), host("c"), host("d")]
    request = BuildRequest(vcpus=1, memory_mb=1, local_gb=0, excluded_hosts=frozenset({"c"}))
    assert [h.name for h in eligible_hosts(hosts, request, Policy())] == ["d"]


def test_availability_zone_filter():
    hosts = [host("a", az="east"), host("b", az="west")]
    request = BuildRequest(vcpus=1, memory_mb=1, local_gb=0, availability_zone="west")
    assert select_host(hosts, request, Policy()).name == "b"


def test_allocation_ratios_allow_overcommit_exactly_up_to_the_ratio():
    full = host("a", vcpus=2, vcpus_used=7)
    request = BuildRequest(vcpus=1, memory_mb=1, local_gb=0)
    assert select_host([full], request, Policy(cpu_allocation_ratio=4.0)).name == "a"
    full.vcpus_used = 8
    assert select_host([full], request, Policy(cpu_allocation_ratio=4.0)) is None
    ram = host("r", memory_mb=1000, memory_mb_used=900)
    assert select_host([ram], BuildRequest(1, 200, 0), Policy()) is None
    assert select_host([ram], BuildRequest(1, 200, 0), Policy(ram_allocation_ratio=1.5))
    disk = host("d", local_gb=10, local_gb_used=9)
    assert select_host([disk], BuildRequest(1, 1, 2), Policy()) is None


def test_no_host_fits_a_flavor_larger_than_any_host():
    hosts = [host(f"h{i}") for i in range(5)]
    assert select_host(hosts, BuildRequest(1, 10**6, 1), Policy()) is None


def test_tie_break_is_deterministic():
    hosts = [host("b"), host("a"), host("c")]
    assert select_host(hosts, TINY, Policy()).name == "a"
    assert select_host(hosts, TINY, Policy(weigher="pack")).name == "a"


host_specs = st.lists(
    st.tuples(st.integers(1, 8), st.integers(256, 8192), st.integers(1, 100)),
    min_size=1, max_size=6,
)
requests = st.lists(
    st.tuples(st.integers(1, 4), st.integers(64, 4096), st.integers(0, 40)),
    min_size=1, max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(host_specs, requests, st.sampled_from(["spread", "pack", "random"]),
       st.floats(1.0, 4.0), st.floats(1.0, 1.5))
def test_claims_never_exceed_capacity_times_ratio(specs, wanted, weigher, cpu_ratio, ram_ratio):
    policy = Policy(cpu_allocation_ratio=cpu_ratio, ram_allocation_ratio=ram_ratio,
                    weigher=weigher)
    hosts = [host(f"h{i}", vcpus=c, memory_mb=m, local_gb=d) for i, (c, m, d) in
             enumerate(specs)]
    rng = random.Random(0)
    for vcpus, ram, disk in wanted:
        request = BuildRequest(vcpus, ram, disk)
        chosen = select_host(hosts, request, policy, rng)
        if chosen is None:
            # Nothing fits: truly no host has room.
            assert not eligible_hosts(hosts, request, policy)
            continue
        chosen.consume(request)
        assert chosen.vcpus_used <= chosen.vcpus * cpu_ratio
        assert chosen.memory_mb_used <= chosen.memory_mb * ram_ratio
        assert chosen.local_gb_used <= chosen.local_gb * policy.disk_allocation_ratio


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8), st.integers(0, 4096), st.integers(0, 50),
                          st.integers(0, 40), st.integers(0, 5000), st.integers(0, 60),
                          st.booleans(), st.booleans(), st.sampled_from(["a", "b"])),
                min_size=1, max_size=8),
       st.tuples(st.integers(1, 4), st.integers(1, 2048), st.integers(0, 20)),
       st.sampled_from([None, "a", "b"]), st.sampled_from(["spread", "pack"]))
def test_fused_selection_agrees_with_the_filter_functions(specs, wanted, zone, weigher):
    hosts = [HostState(f"h{i}", az, c, m, d, cu, mu, du, 0, en, al)
             for i, (c, m, d, cu, mu, du, en, al, az) in enumerate(specs)]
    request = BuildRequest(*wanted, availability_zone=zone, excluded_hosts=frozenset({"h0"}))
    policy = Policy(weigher=weigher)
    chosen = select_host(hosts, request, policy)
    eligible = eligible_hosts(hosts, request, policy)
    assert (chosen is None) == (not eligible)
    if chosen is not None:
        assert chosen in eligible
