"""RingBuilder: rebalance invariants on fixed scenarios, files, backups and errors."""
import gzip
import os

import msgpack
import numpy as np
import pytest

from ring.builder import RingBuilder
from ring.devices import RingError
from ring.dispersion import dispersion_report, well_dispersed
from ring.topology import Topology
from tests.ring.ringtools import (
    FIXED_NOW,
    HOUR,
    moved_per_partition,
    scenario_a_builder,
    small_builder,
    weight_shares,
)


def _zone_sharing(builder):
    return dispersion_report(Topology(builder.devs), builder.assign)["sharing"]["zone"]


def test_standard_scenario_a():
    builder = scenario_a_builder()
    builder.rebalance(now=FIXED_NOW)
    shares = weight_shares(builder)
    parts = builder.parts_per_dev()
    assert all(abs(parts[d] / shares[d] - 1) <= 0.01 for d in shares)
    assert _zone_sharing(builder) == 0

    before = builder.assign.copy()
    total_before = sum(d.weight for d in builder.existing_devs())
    builder.add_dev(1, 1, "10.0.1.9", 6200, "sdx", 100)
    builder.pretend_min_part_hours_passed()
    stats = builder.rebalance(now=FIXED_NOW + HOUR)

    slots = builder.replicas * builder.parts
    ideal = 100 / (total_before + 100) * slots
    moved = int(moved_per_partition(before, builder.assign).sum())
    assert moved == stats["moved"]
    assert moved <= ideal + 0.02 * slots
    shares = weight_shares(builder)
    parts = builder.parts_per_dev()
    assert all(abs(parts[d] / shares[d] - 1) <= 0.01 for d in shares)
    assert _zone_sharing(builder) == 0
    assert moved_per_partition(before, builder.assign).max() <= 1


def test_min_part_hours_blocks_a_second_move():
    builder = small_builder(part_power=8, zones=4, per_zone=2, min_part_hours=6)
    builder.rebalance(now=FIXED_NOW)
    builder.add_dev(1, 5, "127.0.5.1", 6200, "d0", 100)
    first = builder.assign.copy()
    builder.rebalance(now=FIXED_NOW + 7 * HOUR)
    moved_once = moved_per_partition(first, builder.assign)
    assert moved_once.max() == 1 and moved_once.sum() > 0
    builder.add_dev(1, 6, "127.0.6.1", 6200, "d0", 400)
    second = builder.assign.copy()
    builder.rebalance(now=FIXED_NOW + 8 * HOUR)  # only 1 hour later
    moved_again = moved_per_partition(second, builder.assign)
    assert not (moved_again[moved_once > 0]).any()
    assert moved_again.max() <= 1
    assert (moved_once + moved_again).max() <= 1


def test_rebalance_is_deterministic_for_state_and_seed(tmp_path):
    builder = small_builder(part_power=9, zones=3, per_zone=3)
    builder.save(str(tmp_path / "a.builder"))
    first = RingBuilder.load(str(tmp_path / "a.builder"))
    second = RingBuilder.load(str(tmp_path / "a.builder"))
    first.rebalance(seed=42, now=FIXED_NOW)
    second.rebalance(seed=42, now=FIXED_NOW)
    assert np.array_equal(first.assign, second.assign)
    third = RingBuilder.load(str(tmp_path / "a.builder"))
    third.rebalance(seed=43, now=FIXED_NOW)
    assert not np.array_equal(first.assign, third.assign)


def test_removed_device_is_emptied_and_leaves_a_hole_in_ids():
    builder = small_builder(part_power=8, zones=4, per_zone=2)
    builder.rebalance(now=FIXED_NOW)
    builder.remove_dev(3)
    builder.rebalance(now=FIXED_NOW + HOUR)
    assert 3 not in builder.assign
    assert builder.devs[3] is None
    assert builder.validate() == []
    assert builder.add_dev(1, 1, "127.0.1.9", 6200, "new", 100) == len(builder.devs) - 1


def test_zero_weight_device_drains():
    builder = small_builder(part_power=8, zones=4, per_zone=2, min_part_hours=0)
    builder.rebalance(now=FIXED_NOW)
    builder.set_dev_weight(0, 0)
    builder.rebalance(now=FIXED_NOW)
    assert builder.parts_per_dev()[0] == 0
    assert well_dispersed(Topology(builder.devs), builder.assign).all()


def test_large_part_power_starts_from_a_tiled_layout():
    builder = RingBuilder(16, 3, 1)
    for zone in range(1, 6):
        for index in range(3):
            builder.add_dev(1, zone, f"10.1.{zone}.{index}", 6200, "sdb", 100 + 50 * index)
    stats = builder.rebalance(now=FIXED_NOW)
    assert stats["badly_dispersed"] == 0
    assert stats["max_balance"] < 1.0
    assert len(np.unique(builder.assign[0])) == 15


@pytest.mark.parametrize("part_power", [0, 25, -1])
def test_part_power_out_of_range(part_power):
    with pytest.raises(RingError, match="part_power"):
        RingBuilder(part_power, 3, 1)


def test_replicas_more_than_devices_is_refused():
    builder = RingBuilder(6, 3, 1)
    builder.add_dev(1, 1, "127.0.0.1", 6200, "a", 100)
    builder.add_dev(1, 1, "127.0.0.1", 6200, "b", 100)
    with pytest.raises(RingError, match="3 replicas need at least 3 devices"):
        builder.rebalance()
    assert builder.assign is None


def test_rebalance_without_weighted_devices_is_impossible():
    builder = RingBuilder(6, 1, 1)
    with pytest.raises(RingError, match="impossible rebalance"):
        builder.rebalance()
    builder.add_dev(1, 1, "127.0.0.1", 6200, "a", 0)
    with pytest.raises(RingError, match="impossible rebalance"):
        builder.rebalance()


def test_duplicate_device_and_bad_fields_are_refused():
    builder = RingBuilder(6, 1, 1)
    builder.add_dev(1, 1, "127.0.0.1", 6200, "a", 100)
    with pytest.raises(RingError, match="already exists"):
        builder.add_dev(2, 2, "127.0.0.1", 6200, "a", 100)
    for bad in ({"port": 0}, {"weight": -1}, {"device": "a/b"}, {"ip": "host"}):
        fields = {"region": 1, "zone": 1, "ip": "127.0.0.2", "port": 6200, "device": "x",
                  "weight": 1}
        fields.update(bad)
        with pytest.raises(RingError):
            builder.add_dev(**fields)
    with pytest.raises(RingError, match="unknown device id 9"):
        builder.remove_dev(9)


def test_save_load_round_trip_and_backups(tmp_path):
    path = str(tmp_path / "object.builder")
    builder = small_builder(part_power=7)
    builder.save(path)
    builder.rebalance(now=FIXED_NOW)
    builder.save(path)
    loaded = RingBuilder.load(path)
    assert np.array_equal(loaded.assign, builder.assign)
    assert np.array_equal(loaded.last_moved, builder.last_moved)
    assert loaded.to_dict() == builder.to_dict()
    backups = os.listdir(tmp_path / "backups")
    assert len(backups) == 1 and backups[0].endswith("object.builder")
    older = RingBuilder.load(str(tmp_path / "backups" / backups[0]))
    assert older.assign is None
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def _write(path, data):
    with open(path, "wb") as handle:
        handle.write(data)


@pytest.mark.parametrize("content,message", [
    (b"", "not a ring builder file"),
    (b"plain text", "not a ring builder file"),
    (gzip.compress(b"SOMETHING ELSE"), "wrong magic"),
    (gzip.compress(b"BRUMEBLD\x00\x09" + msgpack.packb({})), "unsupported ring builder file"),
    (gzip.compress(b"BRUMEBLD\x00\x01" + b"\xc1\xc1"), "corrupt"),
    (gzip.compress(b"BRUMEBLD\x00\x01" + msgpack.packb({"part_power": 3})), "corrupt"),
    (gzip.compress(b"BRUMERNG\x00\x01" + msgpack.packb({})), "wrong magic"),
])
def test_corrupt_or_foreign_builder_files(tmp_path, content, message):
    path = str(tmp_path / "x.builder")
    _write(path, content)
    with pytest.raises(RingError, match=message):
        RingBuilder.load(path)


def test_truncated_builder_file_is_rejected(tmp_path):
    path = str(tmp_path / "x.builder")
    builder = small_builder(part_power=7)
    builder.rebalance(now=FIXED_NOW)
    builder.save(path)
    with open(path, "rb") as handle:
        data = handle.read()
    _write(path, data[: len(data) // 2])
    with pytest.raises(RingError):
        RingBuilder.load(path)


def test_write_ring_needs_a_rebalanced_builder(tmp_path):
    builder = small_builder(part_power=7)
    with pytest.raises(RingError, match="never been rebalanced"):
        builder.write_ring(str(tmp_path / "object.ring.gz"))
    builder.rebalance(now=FIXED_NOW)
    builder.remove_dev(0)
    with pytest.raises(RingError, match="rebalance first"):
        builder.write_ring(str(tmp_path / "object.ring.gz"))
    assert not os.path.exists(tmp_path / "object.ring.gz")
