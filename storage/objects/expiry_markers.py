"""Expiry markers: one empty file per object write that carries `X-Delete-At`, so the expirer
finds what is due without reading every object's metadata.

When a `.data` or `.meta` whose metadata holds `X-Delete-At` is committed (a PUT, a POST, a
replication push), `storage.objects.writer` first makes a marker durable on the same device:

    <device>/expiring/<hour>/<delete_at>.<objects dir>.<partition>.<hash>

`<hour>` is `delete_at` rounded down to a multiple of `BUCKET_SECONDS`, so a pass lists only
the directories of hours that have begun. The marker is made (and its directory fsynced)
before the object file is renamed into place: an object that expires always has its marker,
and a marker whose write then failed, or whose object was rewritten, deleted or re-POSTed
with another time, is simply stale; the expirer checks every marker against the object's
current metadata before it acts, and removes stale ones. Markers carry no names: the object's
own metadata has them.

The expirer still scans every object of a device now and then (`full_scan_interval`), for
objects written before markers existed; `note_full_scan`/`last_full_scan` keep, per device,
when that last happened.
"""
from __future__ import annotations

import contextlib
import os
import time
from dataclasses import dataclass

from common.atomic_files import fsync_dir, makedirs_durable
from common.decimal_text import capped_decimal
from common.timestamp import MAX_SECONDS

MARKERS_DIR = "expiring"
BUCKET_SECONDS = 3600
FULL_SCAN_RECORD = "last-full-scan"
# Tries of `write_marker` when the expirer removed the (empty, ended) hour directory meanwhile.
WRITE_ATTEMPTS = 3


@dataclass(frozen=True)
class Marker:
    delete_at: int
    objects_dir: str  # the storage policy's directory: objects, objects-1, ...
    partition: str
    hash: str

    @property
    def name(self) -> str:
        return f"{self.delete_at}.{self.objects_dir}.{self.partition}.{self.hash}"

    @property
    def bucket(self) -> str:
        return str(self.delete_at - self.delete_at % BUCKET_SECONDS)


def parse_marker(name: str) -> Marker | None:
    """The marker a file name stands for, or None for any other name."""
    parts = name.split(".")
    if len(parts) != 4:
        return None
    delete_at, objects_dir, partition, hash_ = parts
    if not (_is_canonical_number(delete_at) and _is_canonical_number(partition)):
        return None
    if not (objects_dir == "objects" or (objects_dir.startswith("objects-")
                                         and objects_dir[8:].isascii()
                                         and objects_dir[8:].isdigit())):
        return None
    if len(hash_) != 32 or any(c not in "0123456789abcdef" for c in hash_):
        return None
    return Marker(int(delete_at), objects_dir, partition, hash_)


def _is_canonical_number(text: str) -> bool:
    """Digits as `str(int)` writes them (no sign, no leading zero): one name per marker."""
    return text.isascii() and text.isdigit() and text == str(int(text))


def delete_at_of(metadata: dict) -> int | None:
    """The metadata's `X-Delete-At` as a whole number of seconds, or None (also for a time
    past the last ten-digit second, which never comes and could name no marker)."""
    value = metadata.get("X-Delete-At")
    delete_at = capped_decimal(value, MAX_SECONDS + 1) if isinstance(value, str) else None
    return delete_at if delete_at is not None and delete_at <= MAX_SECONDS else None


def write_marker(device_path: str, marker: Marker) -> None:
    """Make `marker` durable under `device_path` (nothing changes if it is there already).

    The expirer removes an hour's directory once the hour is over and the directory empty: a
    marker due in such an hour (a replication push of an object already expired) finds its
    directory made again.
    """
    bucket_dir = os.path.join(device_path, MARKERS_DIR, marker.bucket)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    for attempt in range(WRITE_ATTEMPTS):
        makedirs_durable(bucket_dir)
        try:
            fd = os.open(os.path.join(bucket_dir, marker.name), flags, 0o644)
        except FileExistsError:
            return
        except FileNotFoundError:
            if attempt == WRITE_ATTEMPTS - 1:
                raise
            continue
        os.close(fd)
        fsync_dir(bucket_dir)
        return


def due_markers(device_path: str, now: float):
    """(path, Marker) of every marker due at `now` on a device, earliest first. Files that
    are not markers are left alone; hour directories that have ended and hold nothing are
    removed on the way."""
    root = os.path.join(device_path, MARKERS_DIR)
    try:
        buckets = sorted((int(name), name) for name in os.listdir(root)
                         if name.isascii() and name.isdigit())
    except FileNotFoundError:
        return
    for start, name in buckets:
        if start > now:
            break
        bucket_dir = os.path.join(root, name)
        try:
            entries = os.listdir(bucket_dir)
        except FileNotFoundError:
            continue
        markers = sorted((m.delete_at, m.name, m) for m in map(parse_marker, entries) if m)
        for delete_at, marker_name, marker in markers:
            if delete_at <= now:
                yield os.path.join(bucket_dir, marker_name), marker
        if start + BUCKET_SECONDS <= now:
            with contextlib.suppress(OSError):  # not empty (a failure kept), or gone
                os.rmdir(bucket_dir)


def remove_marker(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def last_full_scan(device_path: str) -> float | None:
    """When the expirer last finished scanning every object of this device (None: never)."""
    try:
        return os.stat(os.path.join(device_path, MARKERS_DIR, FULL_SCAN_RECORD)).st_mtime
    except FileNotFoundError:
        return None


def note_full_scan(device_path: str, when: float | None = None) -> None:
    """Record that a full scan of this device finished at `when` (default: now)."""
    root = os.path.join(device_path, MARKERS_DIR)
    os.makedirs(root, exist_ok=True)
    path = os.path.join(root, FULL_SCAN_RECORD)
    with open(path, "a"):
        pass
    stamp = time.time() if when is None else when
    os.utime(path, (stamp, stamp))
