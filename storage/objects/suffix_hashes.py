"""Suffix hashes of an object partition: the cheap summary replicas compare.

A partition directory `objects/<part>/` holds suffix directories (`<hash[-3:]>/`), each holding
hash directories whose file names (`<timestamp>.data|.ts|.meta`) describe the object's state.
The hash of a suffix is the MD5 of its hash-dir names and their (cleaned-up) file names, so two
replicas holding the same objects in the same state have equal suffix hashes without reading a
byte of data.

Computed hashes are cached per partition in `hashes.msgpack` ({suffix: hex or None}). Whenever a
file in a suffix changes, the writer appends the suffix to `hashes.invalid` (append-only, one
suffix per line, under the partition lock); `get_hashes` recomputes those suffixes and consumes
exactly the lines it read, so an invalidation racing with a recompute is never lost. Every
rewrite of the cache bumps its generation, and a recompute that finds the generation moved
under it starts over rather than overwrite a newer cache with older hashes.

Hashing applies the on-disk rules of `storage.objects.ondisk_files` first (newest timestamp wins,
obsolete files go, tombstones older than `reclaim_age` are reclaimed with their directory), so
only live files are hashed and replicated.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import time

import msgpack

from storage.objects.ondisk_files import cleanup_ondisk_files
from storage.objects.partition_lock import partition_lock

HASHES_FILE = "hashes.msgpack"
INVALID_FILE = "hashes.invalid"
FULL_KEY = "_full"  # when every suffix was last recomputed (not a suffix: 3 hex chars)
GENERATION_KEY = "_gen"  # bumped by every rewrite of the cache
DEFAULT_RECLAIM_AGE = 7 * 24 * 3600


def cleanup_hash_dir(hash_dir: str, reclaim_age: float) -> list[str]:
    """Remove obsolete files (and the dir when nothing is left); return the kept names."""
    return sorted(cleanup_ondisk_files(hash_dir, reclaim_age).live)


def hash_suffix(suffix_dir: str, reclaim_age: float) -> str | None:
    """MD5 over the suffix's hash dirs and kept files; None (and the dir removed) when empty."""
    try:
        hash_names = sorted(os.listdir(suffix_dir))
    except (FileNotFoundError, NotADirectoryError):
        return None
    md5 = hashlib.md5(usedforsecurity=False)
    found = False
    for hash_name in hash_names:
        kept = cleanup_hash_dir(os.path.join(suffix_dir, hash_name), reclaim_age)
        if not kept:
            continue
        found = True
        md5.update(hash_name.encode())
        for name in kept:
            md5.update(b"/" + name.encode())
        md5.update(b"\n")
    if not found:
        with contextlib.suppress(OSError):
            os.rmdir(suffix_dir)
        return None
    return md5.hexdigest()


def invalidate_suffix(partition_dir: str, suffix: str) -> None:
    """Record that `suffix` changed so the next `get_hashes` recomputes it."""
    with partition_lock(partition_dir):
        fd = os.open(
            os.path.join(partition_dir, INVALID_FILE), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644
        )
        try:
            os.write(fd, suffix.encode() + b"\n")
        finally:
            os.close(fd)


def _read_file(path: str) -> bytes:
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except FileNotFoundError:
        return b""


def _write_atomic(path: str, data: bytes) -> None:
    """Replace a cache file by rename. No fsync: after a crash a lost or stale cache is at worst
    recomputed (dirty suffixes are re-read from `hashes.invalid`, itself only appended)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def read_cached_hashes(partition_dir: str) -> dict[str, str | None] | None:
    raw = _read_file(os.path.join(partition_dir, HASHES_FILE))
    if not raw:
        return None
    try:
        value = msgpack.unpackb(raw, raw=False)
    except (ValueError, msgpack.UnpackException):
        return None
    return value if isinstance(value, dict) else None


def list_suffixes(partition_dir: str) -> list[str]:
    try:
        names = os.listdir(partition_dir)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if len(n) == 3 and all(c in "0123456789abcdef" for c in n))


def get_hashes(
    partition_dir: str,
    recalculate: list[str] | tuple[str, ...] = (),
    reclaim_age: float = DEFAULT_RECLAIM_AGE,
    force_full: bool = False,
    full_rehash_age: float | None = None,
) -> dict[str, str]:
    """Suffix hashes of a partition, recomputing dirty, missing and requested suffixes.

    Returns {suffix: md5 hex} for non-empty suffixes only. With `full_rehash_age`, every
    suffix is recomputed when the last full recompute is older than that (so tombstones in
    suffixes nobody writes to still get reclaimed).

    Hashing runs outside the partition lock, so two callers (the replicator and a peer's
    REPLICATE) may hash at once. The cache carries a generation: a caller whose cache was
    rewritten by another while it hashed starts over from the newer cache instead of
    overwriting it with hashes that may be older (the lost update would hide a suffix from
    replication until the next full rehash).
    """
    dirty = set(recalculate)
    while True:
        result = _hash_once(partition_dir, dirty, reclaim_age, force_full, full_rehash_age)
        if isinstance(result, dict):
            return result
        dirty |= result  # raced: redo what this attempt recomputed, from the newer cache


def _hash_once(partition_dir, recalculate, reclaim_age, force_full, full_rehash_age):
    """One attempt: the hashes, or the set of suffixes it recomputed when another caller
    rewrote the cache meanwhile."""
    invalid_path = os.path.join(partition_dir, INVALID_FILE)
    with partition_lock(partition_dir):
        invalid_raw = _read_file(invalid_path)
        cached = read_cached_hashes(partition_dir)
    dirty = {line for line in invalid_raw.decode(errors="replace").split() if line}
    dirty.update(recalculate)
    was_cached = cached is not None
    full_at = cached.pop(FULL_KEY, 0) if cached is not None else 0
    generation = cached.pop(GENERATION_KEY, 0) if cached is not None else 0
    if full_rehash_age is not None and time.time() - full_at > full_rehash_age:
        force_full = True
    if cached is None or force_full:
        cached = {}
        full_at = time.time()
        dirty.update(list_suffixes(partition_dir))
    else:
        on_disk = set(list_suffixes(partition_dir))
        dirty.update(on_disk - set(cached))
        dirty.update(set(cached) - on_disk)
    for suffix in dirty:
        cached[suffix] = hash_suffix(os.path.join(partition_dir, suffix), reclaim_age)
    hashes = {s: h for s, h in cached.items() if h is not None}
    if not dirty and not invalid_raw and was_cached:
        return hashes  # nothing changed: no rewrite
    with partition_lock(partition_dir):
        if os.path.isdir(partition_dir):
            now = read_cached_hashes(partition_dir) or {}
            if now.get(GENERATION_KEY, 0) != generation:
                return dirty
            record = {**hashes, FULL_KEY: full_at, GENERATION_KEY: generation + 1}
            _write_atomic(os.path.join(partition_dir, HASHES_FILE), msgpack.packb(record))
            # Consume only the invalidations read above; later ones stay for the next call.
            tail = _read_file(invalid_path)[len(invalid_raw):]
            if tail or invalid_raw:
                _write_atomic(invalid_path, tail)
    return hashes


def differing_suffixes(local: dict[str, str], remote: dict[str, str | None]) -> list[str]:
    """Suffixes whose local hash differs from the peer's (only those we hold)."""
    return sorted(s for s, h in local.items() if remote.get(s) != h)


def list_suffix_files(partition_dir: str, suffix: str, reclaim_age: float) -> dict[str, list[str]]:
    """{hash: [kept file names]} of one suffix, after cleanup."""
    suffix_dir = os.path.join(partition_dir, suffix)
    try:
        hash_names = sorted(os.listdir(suffix_dir))
    except (FileNotFoundError, NotADirectoryError):
        return {}
    result = {}
    for hash_name in hash_names:
        kept = cleanup_hash_dir(os.path.join(suffix_dir, hash_name), reclaim_age)
        if kept:
            result[hash_name] = kept
    return result
