"""The per-partition lock shared by the object server and the daemons of one node.

An exclusive `flock` on `<partition dir>/.lock` guards the partition's suffix bookkeeping
(`hashes.invalid`, `hashes.msgpack`) between processes. It polls instead of blocking: a
blocking flock would freeze every green thread of the process while another green thread of
the same process holds the lock. Hold it only around quick file operations.
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import time

LOCK_FILE = ".lock"


@contextlib.contextmanager
def partition_lock(partition_dir: str, timeout: float = 10.0):
    """Hold the partition's lock (creating the partition dir if needed); yields the dir."""
    path = os.path.join(partition_dir, LOCK_FILE)
    flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC
    try:
        fd = os.open(path, flags, 0o644)
    except FileNotFoundError:
        os.makedirs(partition_dir, exist_ok=True)
        fd = os.open(path, flags, 0o644)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"lock on {partition_dir} timed out") from None
                time.sleep(0.001)
        yield partition_dir
    finally:
        os.close(fd)
