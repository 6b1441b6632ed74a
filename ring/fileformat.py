"""On-disk envelope of builder and ring files: gzip(magic + version + msgpack body).

Files are written atomically (temp file in the same directory, fsync, rename, fsync of the
directory); anything that is not one of our files, or is damaged, raises `RingError` with one
clear line. Nothing is ever pickled.
"""
from __future__ import annotations

import gzip
import os
import shutil
import struct
import time
import zlib

import msgpack

from common.atomic_files import write_atomic
from ring.devices import RingError

BUILDER_MAGIC = b"BRUMEBLD"
RING_MAGIC = b"BRUMERNG"
_VERSION = struct.Struct(">H")
HEADER_LEN = len(BUILDER_MAGIC) + _VERSION.size


def encode(magic: bytes, version: int, body: dict, compresslevel: int = 6) -> bytes:
    payload = magic + _VERSION.pack(version) + msgpack.packb(body, use_bin_type=True)
    return gzip.compress(payload, compresslevel=compresslevel, mtime=0)


def decode(data: bytes, magic: bytes, versions: tuple[int, ...], path: str, kind: str) -> dict:
    """Unpack a file's bytes, checking magic and version; RingError on anything wrong."""
    try:
        payload = gzip.decompress(data)
    except (OSError, EOFError, zlib.error):
        raise RingError(f"{path}: not a {kind} file (not gzip or truncated)") from None
    if len(payload) < HEADER_LEN or payload[: len(magic)] != magic:
        raise RingError(f"{path}: not a {kind} file (wrong magic)")
    (version,) = _VERSION.unpack(payload[len(magic) : HEADER_LEN])
    if version not in versions:
        raise RingError(f"{path}: unsupported {kind} file version {version}")
    try:
        body = msgpack.unpackb(payload[HEADER_LEN:], raw=False, strict_map_key=False)
    except (ValueError, msgpack.UnpackException, TypeError):
        raise RingError(f"{path}: corrupt {kind} file (bad msgpack body)") from None
    if not isinstance(body, dict):
        raise RingError(f"{path}: corrupt {kind} file (body is not a map)")
    return body


def read_file(path: str, magic: bytes, versions: tuple[int, ...], kind: str) -> tuple[dict, bytes]:
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise RingError(f"{path}: no such {kind} file") from None
    except OSError as exc:
        raise RingError(f"{path}: cannot read {kind} file: {exc.strerror}") from None
    return decode(data, magic, versions, path, kind), data


def atomic_write(path: str, data: bytes) -> None:
    """Write a ring or builder file durably (see `common.atomic_files`), world-readable."""
    write_atomic(path, data, mode=0o644)


def backup_existing(path: str) -> str | None:
    """Copy the current file at `path` into `backups/` beside it; returns the backup path."""
    if not os.path.exists(path):
        return None
    directory = os.path.join(os.path.dirname(os.path.abspath(path)), "backups")
    os.makedirs(directory, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    base = f"{stamp}.{time.time_ns() % 1_000_000_000:09d}.{os.path.basename(path)}"
    target = os.path.join(directory, base)
    with open(path, "rb") as src:
        data = src.read()
    atomic_write(target, data)
    shutil.copystat(path, target)
    return target
