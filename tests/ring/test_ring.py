"""Ring lookup: partitions, primary and handoff nodes, reloading, corrupt files."""
import hashlib
import os
import time

import pytest

from ring.builder import RingBuilder
from ring.devices import RingError
from ring.hashing import load_hasher
from ring.ring import Ring
from tests.ring.ringtools import FIXED_NOW

NODE_KEYS = {"id", "region", "zone", "ip", "port", "device", "weight", "meta", "index"}


def _conf_dir(tmp_path):
    (tmp_path / "brume.conf").write_text(
        "[cluster]\nhash_path_prefix = pre\nhash_path_suffix = suf\n"
    )
    return str(tmp_path)


def _builder(regions=2, zones=3, per_zone=2, part_power=8, replicas=3):
    builder = RingBuilder(part_power, replicas, 1)
    for region in range(1, regions + 1):
        for zone in range(1, zones + 1):
            for index in range(per_zone):
                builder.add_dev(region, zone, f"10.{region}.{zone}.{index}", 6200, "sdb", 100)
    builder.rebalance(now=FIXED_NOW)
    return builder


@pytest.fixture
def ring_dir(tmp_path):
    conf_dir = _conf_dir(tmp_path)
    builder = _builder()
    builder.write_ring(os.path.join(conf_dir, "object.ring.gz"))
    return conf_dir, builder


def test_get_nodes_matches_the_builder_table(ring_dir):
    conf_dir, builder = ring_dir
    ring = Ring(conf_dir, "object")
    assert ring.partition_count == 256 and ring.replica_count == 3
    hasher = load_hasher(conf_dir)
    part, nodes = ring.get_nodes("AUTH_test", "photos", "cat.jpg")
    digest = hasher.hash_path_raw("AUTH_test", "photos", "cat.jpg")
    assert part == int.from_bytes(digest[:4], "big") >> (32 - 8)
    assert part == ring.get_part("AUTH_test", "photos", "cat.jpg")
    assert [n["id"] for n in nodes] == [int(builder.assign[r, part]) for r in range(3)]
    assert [n["index"] for n in nodes] == [0, 1, 2]
    assert all(set(n) == NODE_KEYS for n in nodes)
    assert ring.get_part_nodes(part) == nodes
    assert 0 <= ring.get_part("AUTH_test", "c") < 256


def test_devs_md5_and_bad_partition(ring_dir):
    conf_dir, builder = ring_dir
    ring = Ring(conf_dir, "object")
    assert [d["id"] for d in ring.devs] == [d.id for d in builder.devs]
    with open(os.path.join(conf_dir, "object.ring.gz"), "rb") as handle:
        assert ring.md5 == hashlib.md5(handle.read()).hexdigest()
    with pytest.raises(RingError, match="out of range"):
        ring.get_part_nodes(256)


def test_handoffs_prefer_new_failure_domains(ring_dir):
    conf_dir, _ = ring_dir
    ring = Ring(conf_dir, "object")
    for part in (0, 17, 255):
        primaries = ring.get_part_nodes(part)
        handoffs = list(ring.get_more_nodes(part))
        assert handoffs == list(ring.get_more_nodes(part))  # deterministic
        ids = [n["id"] for n in primaries + handoffs]
        assert sorted(ids) == list(range(12))  # every device exactly once
        seen_zones = {(n["region"], n["zone"]) for n in primaries}
        # 2 regions x 3 zones, 3 primaries: the next 3 handoffs open the 3 unused zones
        new_zone_flags = []
        for node in handoffs:
            key = (node["region"], node["zone"])
            new_zone_flags.append(key not in seen_zones)
            seen_zones.add(key)
        assert new_zone_flags[:3] == [True, True, True]
        assert not any(new_zone_flags[3:])
        assert [n["index"] for n in handoffs] == list(range(3, 12))


def test_handoffs_open_unused_regions_first(tmp_path):
    conf_dir = _conf_dir(tmp_path)
    builder = _builder(regions=3, zones=2, per_zone=1, replicas=2)
    builder.write_ring(os.path.join(conf_dir, "account.ring.gz"))
    ring = Ring(conf_dir, "account")
    primaries = ring.get_part_nodes(5)
    first = next(iter(ring.get_more_nodes(5)))
    assert first["region"] not in {n["region"] for n in primaries}


def test_ring_reloads_when_the_file_changes(ring_dir):
    conf_dir, builder = ring_dir
    ring = Ring(conf_dir, "object")
    old_md5 = ring.md5
    builder.add_dev(3, 1, "10.3.1.1", 6200, "sdb", 100)
    builder.pretend_min_part_hours_passed()
    builder.rebalance(now=FIXED_NOW + 3600)
    builder.write_ring(os.path.join(conf_dir, "object.ring.gz"))
    assert ring.reload_if_changed()
    assert ring.md5 != old_md5
    assert len(ring.devs) == 13
    assert not ring.reload_if_changed()


def test_ring_notices_a_new_file_by_itself(ring_dir):
    conf_dir, builder = ring_dir
    ring = Ring(conf_dir, "object")
    builder.add_dev(3, 2, "10.3.2.1", 6200, "sdb", 100)
    builder.pretend_min_part_hours_passed()
    builder.rebalance(now=FIXED_NOW + 3600)
    builder.write_ring(os.path.join(conf_dir, "object.ring.gz"))
    deadline = time.monotonic() + 10
    while len(ring.devs) != 13 and time.monotonic() < deadline:
        ring.get_part("AUTH_poll")
    assert len(ring.devs) == 13


def test_broken_new_ring_file_keeps_the_old_ring(ring_dir):
    conf_dir, _ = ring_dir
    ring = Ring(conf_dir, "object")
    nodes = ring.get_part_nodes(3)
    with open(os.path.join(conf_dir, "object.ring.gz"), "wb") as handle:
        handle.write(b"not a ring")
    assert not ring.reload_if_changed()
    assert ring.get_part_nodes(3) == nodes
    with pytest.raises(RingError, match="not a ring file"):
        Ring(conf_dir, "object")


def test_unknown_ring_name_and_missing_file(tmp_path):
    conf_dir = _conf_dir(tmp_path)
    with pytest.raises(RingError, match="unknown ring name"):
        Ring(conf_dir, "objects")
    with pytest.raises(RingError, match="no such ring file"):
        Ring(conf_dir, "container")
