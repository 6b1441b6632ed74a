"""Async-pending container updates: the records an object server leaves when a container
replica could not be told about a PUT/DELETE, for the object updater to retry.

One record per (object, timestamp, container node) at
`<devices>/<dev>/async_pending/<suffix>/<hash>-<timestamp>` (a second container node for the
same write gets `-<n>` appended), msgpack of::

    {"op": "PUT" | "DELETE", "account": str, "container": str, "obj": str,
     "headers": {"X-Timestamp": ..., "X-Size": ..., "X-Content-Type": ..., "X-Etag": ...},
     "container_node": {"host": "ip:port", "device": str, "partition": str}}

Written temp file (`<dev>/tmp/`) -> fsync -> rename -> fsync of the directory (and of the
parent of each directory made for it).
"""
from __future__ import annotations

import os
import uuid

import msgpack

from common.atomic_files import fsync_dir, makedirs_durable

ASYNC_DIR = "async_pending"
RECORD_KEYS = ("op", "account", "container", "obj", "headers", "container_node")


class AsyncPendingError(Exception):
    """An async-pending file that cannot be decoded."""


def write_async_pending(device_path: str, hash_: str, timestamp: str, record: dict) -> str:
    """Store one record atomically; returns its path."""
    missing = [key for key in RECORD_KEYS if key not in record]
    if missing:
        raise ValueError(f"async pending record lacks {missing[0]!r}")
    directory = os.path.join(device_path, ASYNC_DIR, hash_[-3:])
    base = os.path.join(directory, f"{hash_}-{timestamp}")
    tmp_dir = os.path.join(device_path, "tmp")
    os.makedirs(tmp_dir, exist_ok=True)
    makedirs_durable(directory)  # a new suffix dir's own entry survives a crash too
    tmp_path = os.path.join(tmp_dir, f".async-{uuid.uuid4().hex}.tmp")
    packed = msgpack.packb(record, use_bin_type=True)
    fd = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        view = memoryview(packed)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    target = base
    number = 0
    while os.path.exists(target):
        number += 1
        target = f"{base}-{number}"
    os.rename(tmp_path, target)
    fsync_dir(directory)
    return target


def read_async_pending(path: str) -> dict:
    """Decode one record; AsyncPendingError when it is not a valid record."""
    with open(path, "rb") as handle:
        raw = handle.read(1 << 20)
    try:
        record = msgpack.unpackb(raw, raw=False)
    except Exception as exc:  # garbage
        raise AsyncPendingError(f"{path}: undecodable: {type(exc).__name__}") from None
    if not isinstance(record, dict) or any(key not in record for key in RECORD_KEYS):
        raise AsyncPendingError(f"{path}: not an async pending record")
    return record


def iter_async_pendings(device_path: str):
    """Paths of every async pending record of one device, oldest suffix dir first."""
    root = os.path.join(device_path, ASYNC_DIR)
    try:
        suffixes = sorted(os.listdir(root))
    except FileNotFoundError:
        return
    for suffix in suffixes:
        try:
            names = sorted(os.listdir(os.path.join(root, suffix)))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in names:
            yield os.path.join(root, suffix, name)
