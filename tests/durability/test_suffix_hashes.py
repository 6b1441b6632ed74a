"""Suffix hashing, invalidation and the choice of files to push (no network)."""
from __future__ import annotations

import os
import time

from common.timestamp import Timestamp
from storage.objects.suffix_hashes import (
    HASHES_FILE,
    INVALID_FILE,
    INVALID_OFFSET_KEY,
    differing_suffixes,
    get_hashes,
    invalidate_suffix,
    list_suffix_files,
    pack_cache,
    read_cached_hashes,
)
from storage.replication.object_replicator import files_to_push

HASH_A = "0" * 29 + "abc"
HASH_B = "1" * 29 + "abc"
HASH_C = "2" * 29 + "def"


def touch(partition_dir: str, obj_hash: str, name: str) -> str:
    hash_dir = os.path.join(partition_dir, obj_hash[-3:], obj_hash)
    os.makedirs(hash_dir, exist_ok=True)
    path = os.path.join(hash_dir, name)
    with open(path, "wb"):
        pass
    return path


NOW = time.time()


def ts(offset: float) -> str:
    """A timestamp `offset` seconds after the test started (recent: not reclaimable)."""
    return Timestamp(NOW + offset).normal


def test_equal_contents_equal_hashes(tmp_path):
    one, two = str(tmp_path / "one"), str(tmp_path / "two")
    for part in (one, two):
        touch(part, HASH_A, ts(100) + ".data")
        touch(part, HASH_C, ts(200) + ".ts")
    assert get_hashes(one) == get_hashes(two)
    assert set(get_hashes(one)) == {"abc", "def"}


def counting_hash_suffix(monkeypatch) -> list:
    """Record the suffix dirs `get_hashes` recomputes from now on."""
    import storage.objects.suffix_hashes as suffix_hashes

    seen = []
    real = suffix_hashes.hash_suffix

    def counted(suffix_dir, reclaim_age):
        seen.append(os.path.basename(suffix_dir))
        return real(suffix_dir, reclaim_age)

    monkeypatch.setattr(suffix_hashes, "hash_suffix", counted)
    return seen


def test_dirty_suffix_is_recomputed_and_consumed(tmp_path, monkeypatch):
    part = str(tmp_path / "p")
    touch(part, HASH_A, ts(100) + ".data")
    touch(part, HASH_C, ts(100) + ".data")
    before = get_hashes(part)
    touch(part, HASH_B, ts(150) + ".data")
    # Without invalidation the cached value is served...
    assert get_hashes(part) == before
    invalidate_suffix(part, "abc")
    recomputed = counting_hash_suffix(monkeypatch)
    after = get_hashes(part)
    assert after["abc"] != before["abc"] and after["def"] == before["def"]
    assert recomputed == ["abc"]
    assert get_hashes(part) == after
    assert recomputed == ["abc"]  # consumed: the second call recomputes nothing


def test_invalidations_are_emptied_once_enough_are_consumed(tmp_path, monkeypatch):
    import storage.objects.suffix_hashes as suffix_hashes

    monkeypatch.setattr(suffix_hashes, "INVALID_TRUNCATE_SIZE", 12)
    part = str(tmp_path / "p")
    touch(part, HASH_A, ts(100) + ".data")
    get_hashes(part)
    invalid = os.path.join(part, INVALID_FILE)
    invalidate_suffix(part, "abc")
    get_hashes(part)
    assert os.path.getsize(invalid) == 4  # under the size: kept, its offset recorded
    for _ in range(2):
        invalidate_suffix(part, "abc")
    get_hashes(part)
    assert os.path.getsize(invalid) == 0
    touch(part, HASH_B, ts(150) + ".data")
    invalidate_suffix(part, "abc")  # read from the start of the emptied file
    assert get_hashes(part) == get_hashes(part, force_full=True)


def test_a_torn_cache_reads_as_none_and_every_suffix_is_recomputed(tmp_path, monkeypatch):
    part = str(tmp_path / "p")
    touch(part, HASH_A, ts(100) + ".data")
    touch(part, HASH_C, ts(100) + ".data")
    good = get_hashes(part)
    cache = os.path.join(part, HASHES_FILE)
    with open(cache, "r+b") as handle:
        raw = handle.read()
        handle.seek(len(raw) // 2)
        handle.write(bytes([raw[len(raw) // 2] ^ 0x01]))
    assert read_cached_hashes(part) is None
    recomputed = counting_hash_suffix(monkeypatch)
    assert get_hashes(part) == good
    assert sorted(recomputed) == ["abc", "def"]
    with open(cache, "ab") as handle:  # a longer old version's tail left after a crash
        handle.write(b"\x00\x01")
    assert read_cached_hashes(part) is None


def test_a_cache_older_than_its_invalidations_recomputes_them(tmp_path):
    """A crash may leave an older cache: it reflects fewer lines, so it reads more."""
    part = str(tmp_path / "p")
    touch(part, HASH_A, ts(100) + ".data")
    get_hashes(part)
    cache = os.path.join(part, HASHES_FILE)
    with open(cache, "rb") as handle:
        older = handle.read()
    touch(part, HASH_B, ts(150) + ".data")
    invalidate_suffix(part, "abc")
    newer = get_hashes(part)
    with open(cache, "wb") as handle:
        handle.write(older)
    assert get_hashes(part) == newer


def test_an_offset_past_the_end_of_the_invalidations_reads_them_all(tmp_path):
    """The cache says more was consumed than the file holds (emptied, then appended to)."""
    part = str(tmp_path / "p")
    touch(part, HASH_A, ts(100) + ".data")
    get_hashes(part)
    record = read_cached_hashes(part)
    record[INVALID_OFFSET_KEY] = 10_000
    with open(os.path.join(part, HASHES_FILE), "wb") as handle:
        handle.write(pack_cache(record))
    touch(part, HASH_B, ts(150) + ".data")
    invalidate_suffix(part, "abc")
    assert get_hashes(part) == get_hashes(part, force_full=True)


def test_newer_file_wins_and_obsolete_files_go(tmp_path):
    part = str(tmp_path / "p")
    old = touch(part, HASH_A, ts(100) + ".data")
    touch(part, HASH_A, ts(200) + ".ts")
    get_hashes(part, force_full=True)
    assert not os.path.exists(old)
    assert list_suffix_files(part, "abc", 1e9) == {HASH_A: [ts(200) + ".ts"]}


def test_old_tombstones_are_reclaimed(tmp_path):
    part = str(tmp_path / "p")
    touch(part, HASH_A, ts(-1000) + ".ts")
    touch(part, HASH_C, ts(0) + ".data")
    hashes = get_hashes(part, reclaim_age=100, force_full=True)
    assert set(hashes) == {"def"}
    assert not os.path.exists(os.path.join(part, "abc"))


def test_full_rehash_age_forces_recompute(tmp_path):
    part = str(tmp_path / "p")
    touch(part, HASH_A, ts(100) + ".data")
    first = get_hashes(part)
    touch(part, HASH_B, ts(100) + ".data")  # not invalidated
    assert get_hashes(part, full_rehash_age=3600) == first
    assert get_hashes(part, full_rehash_age=0) != first


def test_differing_suffixes():
    assert differing_suffixes({"abc": "1", "def": "2"}, {"abc": "1", "def": "3"}) == ["def"]
    assert differing_suffixes({"abc": "1"}, {}) == ["abc"]
    assert differing_suffixes({}, {"abc": "1"}) == []


def test_files_to_push_rules():
    data_old, data_new = ts(100) + ".data", ts(200) + ".data"
    tomb = ts(300) + ".ts"
    meta = ts(250) + ".meta"
    assert files_to_push([data_new], []) == [data_new]
    assert files_to_push([data_new], [data_old]) == [data_new]
    assert files_to_push([data_old], [data_new]) == []
    assert files_to_push([tomb], [data_new]) == [tomb]
    assert files_to_push([data_new], [tomb]) == []
    assert files_to_push([meta, data_new], []) == [data_new, meta]
    assert files_to_push([meta, data_new], [data_new]) == [meta]


def test_a_hash_computed_while_another_caller_rewrote_the_cache_is_not_written(
        tmp_path, monkeypatch):
    """The replicator hashes a suffix whose only file was quarantined; meanwhile a peer
    pushes the file back and asks (REPLICATE) for a recompute. The replicator's stale 'empty'
    must not overwrite the peer's fresh hash, or the suffix is hidden from replication."""
    import storage.objects.suffix_hashes as suffix_hashes

    pdir = str(tmp_path / "part")
    path = touch(pdir, HASH_A, ts(1) + ".data")
    fresh = get_hashes(pdir)
    assert set(fresh) == {"abc"}
    os.remove(path)  # quarantined by the auditor, which invalidates the suffix
    invalidate_suffix(pdir, "abc")

    real_hash_suffix = suffix_hashes.hash_suffix
    raced = []

    def hash_then_race(suffix_dir, reclaim_age):
        value = real_hash_suffix(suffix_dir, reclaim_age)
        if not raced:  # the first (replicator's) computation, seeing the suffix empty
            raced.append(value)
            touch(pdir, HASH_A, ts(1) + ".data")  # the peer's SYNC restores the file...
            invalidate_suffix(pdir, "abc")
            assert get_hashes(pdir, recalculate=["abc"]) == fresh  # ...and its REPLICATE
        return value

    monkeypatch.setattr(suffix_hashes, "hash_suffix", hash_then_race)
    assert raced == [] and get_hashes(pdir) == fresh
    assert raced == [None]
    monkeypatch.setattr(suffix_hashes, "hash_suffix", real_hash_suffix)
    assert get_hashes(pdir) == fresh  # the cache holds the restored file's hash


def test_only_suffix_names_count_in_the_partition_and_the_invalidations(tmp_path, monkeypatch):
    part = str(tmp_path / "p")
    touch(part, HASH_A, ts(100) + ".data")
    for stray in ("ABC", "ab", "abcd", "xyz", "tmp", "abc.tmp"):
        os.makedirs(os.path.join(part, stray))
    assert sorted(get_hashes(part)) == ["abc"]
    with open(os.path.join(part, INVALID_FILE), "ab") as handle:
        handle.write(b"ABC\nabcd\n\xff\xfe\nzzz\ndef\n")
    recomputed = counting_hash_suffix(monkeypatch)
    get_hashes(part)
    assert recomputed == ["def"]
