"""Which files of an object's hash directory are live: the "newest timestamp wins" rules.

A hash directory holds files named `<timestamp>.data` (object body + metadata),
`<timestamp>.ts` (tombstone) and `<timestamp>.meta` (metadata from a POST). The rules:

* the newest `.data` or `.ts` decides whether the object exists; every older `.data`/`.ts` is
  obsolete (on a timestamp tie the tombstone wins);
* the newest `.meta` that is newer than that `.data` is applied on top of its metadata; every
  other `.meta` is obsolete (a `.meta` next to a newer-or-equal `.ts` or `.data` is obsolete,
  and so is any `.meta` when the winner is a tombstone);
* a lone `.meta` (no `.data`/`.ts` yet, e.g. the `.data` is still on its way by replication)
  is kept, the newest only, until it is older than `reclaim_age`;
* a winning tombstone older than `reclaim_age` is obsolete too (the directory goes away).

Names that do not follow the pattern are ignored (left alone). `gather_ondisk_files` is pure;
`cleanup_ondisk_files` applies it to a directory and deletes what is obsolete.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass, field

from common.timestamp import InvalidTimestamp, Timestamp

EXTENSIONS = (".data", ".ts", ".meta")
# On a timestamp tie, the tombstone beats the data and the data beats the meta.
_EXT_RANK = {".ts": 2, ".data": 1, ".meta": 0}


def parse_filename(name: str) -> tuple[Timestamp, str] | None:
    """`0001234567.12345.data` -> (Timestamp, ".data"); None for any other name."""
    stem, dot, ext = name.rpartition(".")
    ext = dot + ext
    if ext not in _EXT_RANK or len(stem) != 16 or stem[10:11] != ".":
        return None
    try:
        timestamp = Timestamp(stem)
    except InvalidTimestamp:
        return None
    if timestamp.normal != stem:
        return None
    return timestamp, ext


@dataclass
class OnDiskFiles:
    """The verdict on one hash directory's listing (file names, not paths)."""

    data_file: str | None = None
    ts_file: str | None = None
    meta_file: str | None = None
    obsolete: list[str] = field(default_factory=list)

    @property
    def live(self) -> list[str]:
        """Files that must be kept (and replicated), newest first."""
        return [f for f in (self.meta_file, self.data_file, self.ts_file) if f]

    @property
    def newest_write(self) -> Timestamp | None:
        """Timestamp of the winning `.data` or `.ts` (what a PUT/DELETE must beat)."""
        name = self.data_file or self.ts_file
        return Timestamp(name[:16]) if name else None

    @property
    def newest(self) -> Timestamp | None:
        """Newest timestamp among the live files (what a POST must beat)."""
        stamps = [Timestamp(f[:16]) for f in self.live]
        return max(stamps) if stamps else None


def gather_ondisk_files(
    names, reclaim_age: float | None = None, now: float | None = None
) -> OnDiskFiles:
    """Classify the names of one hash directory; see the module docstring for the rules."""
    parsed = []
    for name in names:
        info = parse_filename(name)
        if info is not None:
            parsed.append((info[0].ticks, _EXT_RANK[info[1]], name, info[1]))
    parsed.sort(reverse=True)
    result = OnDiskFiles()
    for _ticks, _rank, name, ext in parsed:
        if ext == ".meta":
            if result.meta_file is None and result.data_file is None and result.ts_file is None:
                result.meta_file = name
            else:
                result.obsolete.append(name)
        elif result.data_file is None and result.ts_file is None:
            if ext == ".data":
                result.data_file = name
            else:
                result.ts_file = name
        else:
            result.obsolete.append(name)
    if result.ts_file and result.meta_file:
        result.obsolete.append(result.meta_file)
        result.meta_file = None
    if reclaim_age is not None:
        cutoff = (time.time() if now is None else now) - reclaim_age
        for attr in ("ts_file", "meta_file"):
            name = getattr(result, attr)
            if name and not result.data_file and Timestamp(name[:16]).seconds < cutoff:
                result.obsolete.append(name)
                setattr(result, attr, None)
    return result


def list_hash_dir(hash_dir: str) -> list[str]:
    """Names in a hash directory; [] when it does not exist."""
    try:
        return os.listdir(hash_dir)
    except (FileNotFoundError, NotADirectoryError):
        return []


def remove_files(hash_dir: str, names) -> None:
    """Unlink obsolete files, ignoring those another process already removed."""
    for name in names:
        try:
            os.unlink(os.path.join(hash_dir, name))
        except FileNotFoundError:
            pass


def remove_obsolete(hash_dir: str, names, remove_dir: bool) -> None:
    """Unlink `names` (files a newer one made obsolete); with `remove_dir`, then the hash dir
    too if that left it empty."""
    remove_files(hash_dir, names)
    if remove_dir:
        remove_dir_if_empty(hash_dir)


def remove_dir_if_empty(path: str) -> bool:
    try:
        os.rmdir(path)
        return True
    except OSError:
        return False


def cleanup_ondisk_files(
    hash_dir: str, reclaim_age: float | None = None, names=None
) -> OnDiskFiles:
    """Delete the obsolete files of `hash_dir` (and the directory once empty).

    `names` may pass a listing the caller already has. Returns the verdict; `.live` are the
    files that remain.
    """
    if names is None:
        names = list_hash_dir(hash_dir)
    verdict = gather_ondisk_files(names, reclaim_age)
    remove_files(hash_dir, verdict.obsolete)
    if not verdict.live and len(verdict.obsolete) == len(names):
        remove_dir_if_empty(hash_dir)
    return verdict
