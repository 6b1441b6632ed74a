"""The object disk layer: metadata in xattrs or trailers on real ext4, file rules, the API the
durability daemons use, and quarantine of corrupt objects."""
from __future__ import annotations

import hashlib
import os
import time

import pytest

from common.timestamp import Timestamp
from ring.hashing import PathHasher
from storage.objects.async_pending import (
    iter_async_pendings,
    read_async_pending,
    write_async_pending,
)
from storage.objects.diskfile import (
    BodyMismatch,
    DiskFileDeleted,
    DiskFileManager,
    DiskFileNotFound,
    DiskFileQuarantined,
)
from storage.objects.metadata import (
    INLINE_LIMIT,
    XATTR_NAME,
    MetadataError,
    pack_metadata,
    read_layout,
    read_metadata,
)
from storage.objects.ondisk_files import cleanup_ondisk_files, gather_ondisk_files
from storage.objects.reader import READ_SIZE
from storage.objects.suffix_hashes import INVALID_FILE


def pop_invalid_suffixes(manager, device: str, partition: str) -> set[str]:
    """The suffixes invalidated in a partition so far; empties its `hashes.invalid`."""
    path = os.path.join(manager.partition_path(device, partition), INVALID_FILE)
    try:
        with open(path, "r+", encoding="ascii") as handle:
            suffixes = {line.strip() for line in handle if line.strip()}
            handle.truncate(0)
    except FileNotFoundError:
        return set()
    return suffixes


def filesystem_type(path: str) -> str:
    """fstype of the mount holding `path`, from /proc/mounts (longest mount point match)."""
    path = os.path.realpath(path)
    best, fstype = "", ""
    with open("/proc/mounts") as mounts:
        for line in mounts:
            _dev, mount_point, kind = line.split()[:3]
            if (path == mount_point or path.startswith(mount_point.rstrip("/") + "/")) and len(
                mount_point
            ) > len(best):
                best, fstype = mount_point, kind
    return fstype


@pytest.fixture
def manager(tmp_path):
    (tmp_path / "sda").mkdir()
    return DiskFileManager(str(tmp_path), PathHasher(b"pre", b"suf"))


def stamp(offset=0.0) -> Timestamp:
    return Timestamp(time.time() + offset)


def put(manager, body=b"body", obj="o", ts=None, extra=None, partition="3"):
    ts = ts or stamp()
    df = manager.diskfile("sda", partition, "a", "c", obj)
    metadata = {"name": f"/a/c/{obj}", "X-Timestamp": ts.normal, "Content-Type": "x/y",
                "Content-Length": str(len(body)), "ETag": hashlib.md5(body).hexdigest()}
    metadata.update(extra or {})
    with df.writer() as writer:
        writer.write(body)
        path = writer.commit(metadata, ts, ".data")
    df.cleanup()
    return df, path


def big_metadata():
    return {f"X-Object-Meta-Key{i:02d}": "v" * (41 if i < 46 else 40) for i in range(90)}


def test_tmp_is_on_ext4(tmp_path):
    assert filesystem_type(str(tmp_path)) == "ext4"


def test_ext4_refuses_the_full_metadata_in_one_xattr(tmp_path):
    """The reason for trailers: this disk cannot hold 4096 bytes of user metadata in xattrs."""
    packed = pack_metadata({**big_metadata(), "X-Timestamp": "0001234567.12345",
                            "Content-Type": "application/octet-stream", "name": "/a/c/o",
                            "Content-Length": "1", "ETag": "d41d8cd98f00b204e9800998ecf8427e"})
    assert len(packed) > INLINE_LIMIT
    probe = tmp_path / "probe"
    probe.write_bytes(b"")
    with pytest.raises(OSError):
        os.setxattr(probe, XATTR_NAME, packed)


def test_small_metadata_is_inline(manager):
    _, path = put(manager, b"abc")
    layout = read_layout(path)
    assert layout.trailer_length == 0
    assert layout.crc_length == 4  # one CRC32 for the one block
    assert os.path.getsize(path) == layout.expected_size == 7
    assert layout.metadata["Content-Length"] == "3"


def test_big_metadata_goes_to_a_trailer_on_ext4(manager):
    assert filesystem_type(manager.devices_root) == "ext4"
    body = os.urandom(70_000)
    df, path = put(manager, body, extra=big_metadata())
    layout = read_layout(path)
    assert layout.trailer_length > INLINE_LIMIT
    assert layout.body_length == len(body)
    assert os.path.getsize(path) == layout.expected_size
    assert read_metadata(path)["X-Object-Meta-Key89"] == "v" * 40
    opened = manager.diskfile("sda", "3", "a", "c", "o").open()
    assert b"".join(opened.reader()) == body  # the reader stops at Content-Length
    # .meta and .ts: the trailer is the whole file
    meta_path = opened.write_metadata({"X-Timestamp": stamp(1).normal, **big_metadata()})
    assert read_layout(meta_path).body_length == 0
    assert os.path.getsize(meta_path) == read_layout(meta_path).trailer_length
    ts_path = opened.write_tombstone({"X-Timestamp": stamp(2).normal, **big_metadata()})
    assert read_metadata(ts_path)["X-Object-Meta-Key00"] == "v" * 41


def test_corrupt_trailer_is_detected(manager):
    _, path = put(manager, b"abc", extra=big_metadata())
    with open(path, "r+b") as handle:
        handle.seek(10)
        handle.write(b"\xff")
    with pytest.raises(MetadataError):
        read_metadata(path)
    with pytest.raises(DiskFileQuarantined):
        manager.diskfile("sda", "3", "a", "c", "o").open()
    assert os.listdir(os.path.join(manager.devices_root, "sda", "quarantined", "objects"))


def test_missing_xattr_is_quarantined(manager):
    _, path = put(manager, b"abc")
    os.removexattr(path, XATTR_NAME)
    with pytest.raises(DiskFileQuarantined):
        manager.diskfile("sda", "3", "a", "c", "o").open()
    assert not os.path.exists(path)


def test_file_rules():
    t = [Timestamp(1000 + i).normal for i in range(6)]
    v = gather_ondisk_files([f"{t[0]}.data", f"{t[1]}.meta", f"{t[2]}.data", f"{t[3]}.meta",
                             f"{t[4]}.meta", "junk.tmp"])
    assert v.data_file == f"{t[2]}.data" and v.meta_file == f"{t[4]}.meta"
    assert sorted(v.obsolete) == sorted([f"{t[0]}.data", f"{t[1]}.meta", f"{t[3]}.meta"])
    v = gather_ondisk_files([f"{t[1]}.data", f"{t[2]}.ts", f"{t[3]}.meta"])
    assert v.ts_file == f"{t[2]}.ts" and v.live == [f"{t[2]}.ts"]
    v = gather_ondisk_files([f"{t[1]}.data", f"{t[1]}.ts"])  # tie: the tombstone wins
    assert v.ts_file == f"{t[1]}.ts" and v.obsolete == [f"{t[1]}.data"]
    v = gather_ondisk_files([f"{t[1]}.meta", f"{t[2]}.meta"])  # lone .meta waits for data
    assert v.live == [f"{t[2]}.meta"] and v.newest_write is None
    v = gather_ondisk_files([f"{t[1]}.ts"], reclaim_age=60, now=1000 + 120)
    assert v.live == [] and v.obsolete == [f"{t[1]}.ts"]
    v = gather_ondisk_files([f"{t[1]}.ts"], reclaim_age=600, now=1000 + 120)
    assert v.live == [f"{t[1]}.ts"]


def test_cleanup_removes_reclaimed_dir(manager):
    df = manager.diskfile("sda", "3", "a", "c", "o")
    df.write_tombstone({"X-Timestamp": Timestamp(1000).normal})
    assert os.path.isdir(df.hash_dir)
    verdict = manager.cleanup_ondisk_files(df.hash_dir, reclaim_age=3600)
    assert verdict.live == [] and not os.path.exists(df.hash_dir)
    assert cleanup_ondisk_files(df.hash_dir).live == []


def test_open_states(manager):
    with pytest.raises(DiskFileNotFound):
        manager.diskfile("sda", "3", "a", "c", "o").open()
    df, _ = put(manager, b"abc", ts=stamp(-5))
    opened = manager.diskfile("sda", "3", "a", "c", "o").open()
    assert opened.content_length == 3
    opened.close()
    ts = stamp()
    df.write_tombstone({"X-Timestamp": ts.normal})
    with pytest.raises(DiskFileDeleted) as info:
        manager.diskfile("sda", "3", "a", "c", "o").open()
    assert info.value.timestamp == ts


def test_walking_and_invalidation(manager):
    df1, _ = put(manager, obj="one", partition="3")
    df2, _ = put(manager, obj="two", partition="9")
    assert sorted(manager.iter_partitions("sda")) == ["3", "9"]
    assert list(manager.iter_suffixes("sda", "3")) == [df1.suffix]
    assert list(manager.iter_hashes("sda", "9", df2.suffix)) == [df2.hash]
    found = {(p, h) for p, _s, h, _path in manager.iter_hash_dirs("sda")}
    assert found == {("3", df1.hash), ("9", df2.hash)}
    assert pop_invalid_suffixes(manager, "sda", "3") == {df1.suffix}
    assert pop_invalid_suffixes(manager, "sda", "3") == set()
    manager.invalidate_suffix("sda", "3", "abc")
    assert pop_invalid_suffixes(manager, "sda", "3") == {"abc"}


def test_write_replicated(manager):
    source, src_path = put(manager, b"replica body", partition="3", extra=big_metadata())
    layout = manager.read_layout(src_path)
    name = os.path.basename(src_path)
    with open(src_path, "rb") as handle:
        chunks = [handle.read(layout.body_length)]
    path = manager.write_replicated("sda", "5", source.hash, name, layout.metadata, chunks)
    assert path == os.path.join(manager.hash_dir_path("sda", "5", source.hash), name)
    copy = manager.diskfile_from_hash("sda", "5", source.hash).open()
    assert b"".join(copy.reader()) == b"replica body"
    assert copy.metadata == layout.metadata
    assert source.suffix in pop_invalid_suffixes(manager, "sda", "5")
    # wrong length or name: refused, nothing left behind
    with pytest.raises(ValueError):
        manager.write_replicated("sda", "6", source.hash, name, layout.metadata, [b"short"])
    with pytest.raises(ValueError):
        manager.write_replicated("sda", "6", source.hash, "x.data", layout.metadata, [])
    assert list(manager.iter_partitions("sda")) != [] and not os.path.exists(
        manager.hash_dir_path("sda", "6", source.hash))
    assert os.listdir(manager.tmp_dir("sda")) == []
    # an older file than what is there is cleaned up at once
    old = Timestamp(1000).normal
    manager.write_replicated("sda", "5", source.hash, f"{old}.ts", {"X-Timestamp": old}, [])
    assert os.listdir(manager.hash_dir_path("sda", "5", source.hash)) == [name]


def test_quarantine_moves_hash_dir(manager):
    df, path = put(manager)
    pop_invalid_suffixes(manager, "sda", "3")
    target = manager.quarantine(path)
    assert target == os.path.join(manager.devices_root, "sda", "quarantined", "objects", df.hash)
    assert os.listdir(target) == [os.path.basename(path)]
    assert not os.path.exists(df.hash_dir)
    assert pop_invalid_suffixes(manager, "sda", "3") == {df.suffix}
    _, path2 = put(manager)
    second = manager.quarantine(os.path.dirname(path2))
    assert second.startswith(target + "-")


def test_corrupt_body_cuts_whole_read_and_quarantines(manager):
    body = os.urandom(2 * READ_SIZE + 200_000)
    df, path = put(manager, body)
    with open(path, "r+b") as handle:
        handle.seek(2 * READ_SIZE + 150_000)
        handle.write(b"\x00\x01\x02")
    opened = manager.diskfile("sda", "3", "a", "c", "o").open()
    got = bytearray()
    with pytest.raises(BodyMismatch):
        for chunk in opened.reader():
            got += chunk
    # good spans before the bad one went out (one held back for the MD5), the bad one never
    assert bytes(got) == body[:READ_SIZE]
    assert not os.path.exists(df.hash_dir)
    quarantined = os.path.join(manager.devices_root, "sda", "quarantined", "objects", df.hash)
    assert os.path.isdir(quarantined)


def test_truncated_body_is_cut_and_quarantined(manager):
    df, path = put(manager, b"q" * 100_000)
    os.truncate(path, 50_000)
    opened = manager.diskfile("sda", "3", "a", "c", "o").open()
    with pytest.raises(BodyMismatch):
        b"".join(opened.reader(ranges=[(40_000, 60_000)]))
    assert not os.path.exists(df.hash_dir)


def test_async_pending_round_trip(tmp_path):
    record = {"op": "PUT", "account": "a", "container": "c", "obj": "o",
              "headers": {"X-Timestamp": "1"},
              "container_node": {"host": "127.0.0.1:1", "device": "sdb", "partition": "4"}}
    device = tmp_path / "sda"
    device.mkdir()
    first = write_async_pending(str(device), "f" * 29 + "abc", "0000001000.00000", record)
    second = write_async_pending(str(device), "f" * 29 + "abc", "0000001000.00000", record)
    assert first.endswith("async_pending/abc/" + "f" * 29 + "abc-0000001000.00000")
    assert second == first + "-1"
    assert list(iter_async_pendings(str(device))) == [first, second]
    assert read_async_pending(first) == record
    with pytest.raises(ValueError):
        write_async_pending(str(device), "f" * 32, "1", {"op": "PUT"})


def test_async_pending_makes_its_new_directories_durable(tmp_path, monkeypatch):
    """The first record of a suffix creates `async_pending/` and `async_pending/<suffix>/`:
    each new directory's entry is fsynced in its parent, and the record's in its directory."""
    import common.atomic_files
    from storage.objects import async_pending

    fsynced = []
    real_fsync_dir = common.atomic_files.fsync_dir

    def recording_fsync_dir(path):
        fsynced.append(os.path.relpath(path, tmp_path))
        real_fsync_dir(path)

    monkeypatch.setattr(common.atomic_files, "fsync_dir", recording_fsync_dir)
    monkeypatch.setattr(async_pending, "fsync_dir", recording_fsync_dir)
    record = {"op": "PUT", "account": "a", "container": "c", "obj": "o",
              "headers": {"X-Timestamp": "1"},
              "container_node": {"host": "127.0.0.1:1", "device": "sdb", "partition": "4"}}
    (tmp_path / "sda").mkdir()
    write_async_pending(str(tmp_path / "sda"), "f" * 29 + "abc", "0000001000.00000", record)
    assert fsynced == ["sda", "sda/async_pending", "sda/async_pending/abc"]


def test_corrupt_read_does_not_quarantine_a_newer_replacement(manager):
    df, path = put(manager, b"old" * 1000, ts=stamp(-10))
    with open(path, "r+b") as handle:
        handle.write(b"zzz")
    opened = manager.diskfile("sda", "3", "a", "c", "o").open()
    put(manager, b"new body", ts=stamp())  # replaces (and unlinks) the corrupt file
    with pytest.raises(BodyMismatch):
        b"".join(opened.reader())
    fresh = manager.diskfile("sda", "3", "a", "c", "o").open()
    assert b"".join(fresh.reader()) == b"new body"


@pytest.mark.parametrize("flip_at", [0, 65535, 65536, 199_999])
def test_no_wrong_byte_ever_leaves_a_reader(manager, flip_at):
    """Whole and ranged reads stop before the corrupt block; what came out is all correct."""
    body = os.urandom(200_000)
    for start, end in [(0, 200_000), (100, 70_000), (65_000, 200_000), (199_990, 200_000)]:
        df, path = put(manager, body, ts=stamp())
        with open(path, "r+b") as handle:
            handle.seek(flip_at)
            handle.write(bytes([body[flip_at] ^ 0x01]))
        opened = manager.diskfile("sda", "3", "a", "c", "o").open()
        ranges = None if (start, end) == (0, 200_000) else [(start, end)]
        got = bytearray()
        try:
            for chunk in opened.reader(ranges=ranges):
                got += chunk
            assert not start <= flip_at < end or flip_at // 65536 not in range(
                start // 65536, (end - 1) // 65536 + 1)
        except BodyMismatch:
            assert not os.path.exists(df.hash_dir)
        assert bytes(got) == body[start:start + len(got)]


def test_block_crcs_cover_chunks_of_any_size(manager):
    body = os.urandom(3 * 65536 + 17)
    df = manager.diskfile("sda", "3", "a", "c", "odd")
    ts = stamp()
    with df.writer() as writer:
        for i in range(0, len(body), 1000):
            writer.write(body[i:i + 1000])
        path = writer.commit({"X-Timestamp": ts.normal, "Content-Length": str(len(body)),
                              "ETag": writer.etag}, ts, ".data")
    layout = read_layout(path)
    assert layout.crc_length == 16 and layout.block_size == 65536
    opened = manager.diskfile("sda", "3", "a", "c", "odd").open()
    assert b"".join(opened.reader()) == body
    opened = manager.diskfile("sda", "3", "a", "c", "odd").open()
    assert b"".join(opened.reader(ranges=[(65530, 196610)])) == body[65530:196610]


def test_a_post_sets_replaces_or_drops_x_object_manifest():
    from storage.objects.diskfile import merge_metadata

    data = {"ETag": "e", "X-Object-Manifest": "c/old", "X-Object-Sysmeta-Slo-Etag": "s"}
    assert "X-Object-Manifest" not in merge_metadata(data, {"X-Timestamp": "2"})
    merged = merge_metadata(data, {"X-Timestamp": "2", "X-Object-Manifest": "c/new"})
    assert merged["X-Object-Manifest"] == "c/new"
    assert merged["X-Object-Sysmeta-Slo-Etag"] == "s"


def test_commit_survives_a_suffix_hashing_that_removes_the_new_dirs(manager, monkeypatch):
    """A replicator's suffix hashing (or a cleanup) removes a new object's still empty hash
    and suffix dirs between their creation and the rename into them: the commit makes them
    again and the object is stored, not a 500."""
    from storage.objects.suffix_hashes import hash_suffix

    real_rename = os.rename
    hashed = []

    def rename_after_a_rehash(src, dst, *args, **kwargs):
        suffix_dir = os.path.dirname(os.path.dirname(dst))
        if not hashed and os.path.isdir(os.path.dirname(dst)):
            hashed.append(hash_suffix(suffix_dir, reclaim_age=604800.0))
            assert not os.path.exists(suffix_dir)  # the real remover took both dirs
        return real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", rename_after_a_rehash)
    df, path = put(manager, body=b"raced")
    assert hashed == [None]
    monkeypatch.undo()
    assert os.path.exists(path)
    df.open()
    try:
        assert b"".join(df.reader()) == b"raced"
    finally:
        df.close()
