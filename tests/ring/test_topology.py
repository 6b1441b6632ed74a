"""Dispersion-aware replica targets."""
import pytest

from ring.devices import Device
from ring.topology import Topology, child_shares, level_bounds, round_preserving_sum


def _devs(specs):
    return [Device(i, r, z, ip, 6200, f"d{i}", w) for i, (r, z, ip, w) in enumerate(specs)]


def test_level_bounds_spread_evenly_within_caps():
    assert level_bounds([5, 5, 5], 3) == ([1, 1, 1], [1, 1, 1])
    assert level_bounds([5, 5, 5], 4) == ([1, 1, 1], [2, 2, 2])
    assert level_bounds([1, 5], 4) == ([1, 3], [1, 3])
    assert level_bounds([2, 2], 1) == ([0, 0], [1, 1])


def test_unconstrained_shares_follow_weights():
    shares = child_shares(3.0, [3, 3, 3, 3], [100, 100, 200, 200])
    assert shares == pytest.approx([0.5, 0.5, 1.0, 1.0])
    assert child_shares(2.0, [2, 2, 2], [100, 200, 100]) == pytest.approx([0.5, 1.0, 0.5])


def test_dispersion_caps_a_heavy_zone_at_one_replica():
    # four zones, 3 replicas: the heavy zone cannot take more than one replica per partition
    shares = child_shares(3.0, [3, 3, 3, 3], [100, 100, 100, 1000])
    assert shares[3] == pytest.approx(1.0)
    assert sum(shares) == pytest.approx(3.0)
    assert shares[:3] == pytest.approx([2 / 3] * 3)


def test_dispersion_forces_a_light_zone_up():
    # two zones, 3 replicas: each zone must hold one or two replicas of every partition
    shares = child_shares(3.0, [3, 3], [1, 1000])
    assert shares == pytest.approx([1.0, 2.0])


def test_round_preserving_sum():
    assert sum(round_preserving_sum([1.5, 1.5, 1.0], 4)) == 4
    assert round_preserving_sum([0.2, 0.3, 2.5], 3) == [0, 0, 3]


def test_targets_sum_and_respect_device_capacity():
    devs = _devs([(1, 1, "a", 100), (1, 1, "a", 300), (1, 2, "b", 100), (2, 1, "c", 50)])
    topo = Topology(devs)
    parts = 256
    _, target = topo.compute_targets(3, parts)
    per_dev = [target[topo.dev_node[d.id]] for d in devs]
    assert sum(per_dev) == 3 * parts
    assert all(0 <= t <= parts for t in per_dev)
    # region 2 (one device) must hold one replica of every partition: 2 regions, 3 replicas
    assert per_dev[3] == parts


def test_zero_weight_devices_get_no_target():
    devs = _devs([(1, 1, "a", 100), (1, 2, "b", 0), (1, 3, "c", 100), (1, 4, "d", 100)])
    topo = Topology(devs)
    _, target = topo.compute_targets(2, 64)
    assert target[topo.dev_node[1]] == 0
    assert sum(target[topo.dev_node[d.id]] for d in devs) == 128
