"""The volume service's pure logic: statuses, quotas, the backup layout, device names."""
from __future__ import annotations

import zlib

import pytest

from volume import backup_format, quotas, states
from volume.backup_format import BackupFormatError, Chunk


def test_state_machine():
    states.require("delete", "available")
    states.require("delete", "error")
    for status in ("in-use", "attaching", "creating", "backing-up", "extending"):
        with pytest.raises(states.InvalidState, match=status):
            states.require("delete", status)
    with pytest.raises(states.InvalidState):
        states.require("attach", "in-use")
    states.require("snapshot_force", "in-use")
    with pytest.raises(states.InvalidState):
        states.require("snapshot", "in-use")
    assert states.after_detach(0) == "available" and states.after_detach(1) == "in-use"
    with pytest.raises(states.InvalidState):
        states.require_backup("restore", "creating")
    states.require_backup("delete", "error")


def test_quota_check():
    limits = {"volumes": 2, "gigabytes": 10, "per_volume_gigabytes": 4, "backups": -1}
    quotas.check(limits, {"volumes": 1, "gigabytes": 6}, {"volumes": 1, "gigabytes": 4})
    with pytest.raises(quotas.OverQuota, match="VolumeLimitExceeded"):
        quotas.check(limits, {"volumes": 2}, {"volumes": 1})
    with pytest.raises(quotas.OverQuota, match="gigabytes"):
        quotas.check(limits, {"gigabytes": 7}, {"gigabytes": 4})
    with pytest.raises(quotas.OverQuota, match="VolumeSizeExceedsLimit"):
        quotas.check(limits, {}, {"per_volume_gigabytes": 5})
    quotas.check(limits, {"backups": 10**6}, {"backups": 1})  # -1: unlimited
    assert quotas.parse_update({"volumes": "3", "tenant_id": "x"}) == {"volumes": 3}
    for bad in ({"volumes": -2}, {"volumes": True}, {"nope": 1}, {"volumes": 1.5}):
        with pytest.raises(ValueError):
            quotas.parse_update(bad)


def test_plan_covers_the_volume():
    assert backup_format.plan(10, 4) == [Chunk(0, 0, 4), Chunk(1, 4, 4), Chunk(2, 8, 2)]
    assert backup_format.plan(0, 4) == []
    chunks = backup_format.plan(1024**3 + 1, 32 * 1024**2)
    assert sum(c.length for c in chunks) == 1024**3 + 1 and chunks[-1].length == 1


def _backup(data: bytes, chunk_size: int):
    prefix = backup_format.object_prefix("vol", "bak")
    entries, objects = [], {}
    for chunk in backup_format.plan(len(data), chunk_size):
        entry, body = backup_format.encode_chunk(
            prefix, chunk, data[chunk.offset:chunk.offset + chunk.length])
        entries.append(entry)
        if body is not None:
            objects[entry["object"]] = body
    import hashlib

    raw = backup_format.metadata("bak", "vol", 1, len(data), chunk_size, entries,
                                 hashlib.sha256(data).hexdigest(), "now")
    return prefix, raw, objects


def test_chunks_round_trip_and_zero_chunks_store_nothing():
    data = b"\0" * 8 + b"hello world!" + b"\0" * 12
    prefix, raw, objects = _backup(data, 8)
    assert list(objects) == ["volume_vol/backup_bak-00002", "volume_vol/backup_bak-00003"]
    doc = backup_format.parse_metadata(raw, "bak", prefix)
    rebuilt = b"".join(backup_format.decode_chunk(e, objects.get(e["object"]))
                       for e in doc["chunks"])
    assert rebuilt == data
    assert backup_format.metadata_object(prefix) == "volume_vol/backup_bak_metadata"
    assert backup_format.container_name("volumebackups", "p1") == "volumebackups_p1"


def test_damage_is_found():
    data = bytes(range(256)) * 4
    prefix, raw, objects = _backup(data, 256)
    doc = backup_format.parse_metadata(raw, "bak", prefix)
    entry = doc["chunks"][1]
    body = zlib.compress(b"x" * 256)
    with pytest.raises(BackupFormatError):
        backup_format.decode_chunk(entry, body)  # wrong length first
    with pytest.raises(BackupFormatError, match="checksum"):
        backup_format.decode_chunk({**entry, "compressed_length": len(body)}, body)
    with pytest.raises(BackupFormatError):
        backup_format.decode_chunk(entry, b"\x00" * entry["compressed_length"])
    with pytest.raises(BackupFormatError):
        backup_format.parse_metadata(raw, "another", prefix)
    with pytest.raises(BackupFormatError):
        backup_format.parse_metadata(b"[1, 2]", "bak", prefix)
    foreign = raw.replace(b"volume_vol/backup_bak-00002", b"volume_vol/backup_zzz-00002")
    with pytest.raises(BackupFormatError, match="foreign"):
        backup_format.parse_metadata(foreign, "bak", prefix)


def test_boot_mapping_and_device_names():
    from common.http_errors import HTTPError
    from compute import block_devices

    image = "6f1d7e4e-7d0e-4a53-9c1e-0b2a4f1f2a10"
    boot = block_devices.parse_bdm([{"boot_index": 0, "uuid": image, "source_type": "image",
                                     "destination_type": "volume", "volume_size": 1}])
    assert boot == block_devices.BootVolume("image", image, 1, False)
    assert block_devices.parse_bdm(None) is None
    # the openstack CLI's `--image`: the image's local root disk, a plain image boot
    local = [{"boot_index": 0, "uuid": image, "source_type": "image",
              "destination_type": "local", "delete_on_termination": True}]
    assert block_devices.parse_bdm(local) is None
    assert block_devices.local_root_image(local) == image
    assert block_devices.local_root_image(None) is None
    for bad in ([{"boot_index": 0, "uuid": image, "source_type": "image",
                  "destination_type": "volume"}],
                [{"boot_index": 1, "uuid": image, "source_type": "volume",
                  "destination_type": "volume"}],
                [{"boot_index": 0, "uuid": "x", "source_type": "volume",
                  "destination_type": "volume"}],
                [{"boot_index": 0, "uuid": image, "source_type": "blank",
                  "destination_type": "local"}], "nope", [1], local + local):
        with pytest.raises(HTTPError) as raised:
            block_devices.parse_bdm(bad)
        assert raised.value.status == 400
    assert block_devices.next_device([]) == "vdb"
    assert block_devices.next_device([{"device": "vdb"}, {"device": "vdd"}]) == "vdc"


def test_volume_disk_xml():
    from compute.domain_xml import volume_xml
    from compute.volume_disks import VolumeDiskError, volume_disk

    item = {"volume_id": "v" * 36, "device": "vdb", "connection_info": {
        "driver_volume_type": "nbd",
        "data": {"host": "127.0.0.1", "port": 10809, "name": "volume-abc"}}}
    xml = volume_xml(volume_disk(item))
    assert "protocol=\"nbd\"" in xml and 'name="volume-abc"' in xml
    assert 'port="10809"' in xml and 'dev="vdb"' in xml
    for bad in ({**item, "device": "sda"},
                {**item, "connection_info": {"driver_volume_type": "iscsi", "data": {}}},
                {**item, "connection_info": {"driver_volume_type": "nbd", "data": {
                    "host": "127.0.0.1", "port": 10809, "name": "a'b"}}}):
        with pytest.raises(VolumeDiskError):
            volume_disk(bad)
