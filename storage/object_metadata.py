"""Object metadata on disk: msgpack in an xattr, or in a trailer when it is too big for one.

Every object file (`.data`, `.meta`, `.ts`) carries a metadata dict (str -> str) packed with
msgpack. ext4 holds only about 3.5 KB of xattrs per file, while the cluster allows 4096 bytes of
user metadata plus system metadata, so the packed dict is stored in one of two ways:

* inline: the xattr `user.brume.metadata` holds the packed dict itself (a msgpack *map*);
  used when it is at most `INLINE_LIMIT` bytes, the common case;
* trailer: the packed dict is written into the file right after the body (at offset
  `body_length`; for `.meta`/`.ts` files, which have no body, at offset 0) and the xattr holds a
  small msgpack *array* `[TRAILER_TAG, offset, length, md5-hex-of-packed-bytes]`.

Both are written before the file is fsynced and renamed into place, so either way the file
appears atomically with its metadata. Readers of a `.data` body must stop at its
`Content-Length` (the trailer follows it). `MetadataError` means the metadata is missing or
corrupt: callers quarantine the file.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import msgpack

XATTR_NAME = "user.brume.metadata"
INLINE_LIMIT = 2048
TRAILER_TAG = "brume-trailer-v1"


class MetadataError(Exception):
    """The metadata of a file is missing, unreadable or fails its checksum."""


@dataclass(frozen=True)
class FileLayout:
    """Where things are in one object file: body bytes then (maybe) a metadata trailer."""

    metadata: dict
    body_length: int
    trailer_length: int

    @property
    def expected_size(self) -> int:
        return self.body_length + self.trailer_length


def pack_metadata(metadata: dict) -> bytes:
    return msgpack.packb(metadata, use_bin_type=True)


def unpack_metadata(raw: bytes) -> dict:
    try:
        value = msgpack.unpackb(raw, raw=False)
    except Exception as exc:  # msgpack raises several unrelated types on garbage
        raise MetadataError(f"undecodable metadata: {type(exc).__name__}") from None
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise MetadataError("metadata is not a str -> str map")
    return value


def write_metadata_fd(fd: int, metadata: dict, body_length: int) -> None:
    """Attach `metadata` to the open file `fd` whose body is `body_length` bytes long.

    Must be called before the file is fsynced and renamed into place.
    """
    packed = pack_metadata(metadata)
    if len(packed) <= INLINE_LIMIT:
        os.setxattr(fd, XATTR_NAME, packed)
        return
    view = memoryview(packed)
    offset = body_length
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
    checksum = hashlib.md5(packed, usedforsecurity=False).hexdigest()
    pointer = msgpack.packb([TRAILER_TAG, body_length, len(packed), checksum])
    os.setxattr(fd, XATTR_NAME, pointer)


def read_layout_fd(fd: int, has_body: bool = True) -> FileLayout:
    """Metadata and layout of the open file `fd`; raises MetadataError when it is bad.

    `has_body` is True for `.data` files (body length = their `Content-Length`), False for
    `.meta` and `.ts` files.
    """
    try:
        raw = os.getxattr(fd, XATTR_NAME)
    except OSError as exc:
        raise MetadataError(f"no metadata xattr ({exc.strerror})") from None
    try:
        value = msgpack.unpackb(raw, raw=False)
    except Exception as exc:  # garbage xattr
        raise MetadataError(f"undecodable metadata xattr: {type(exc).__name__}") from None
    if isinstance(value, dict):
        metadata = unpack_metadata(raw)
        return FileLayout(metadata, _body_length(metadata) if has_body else 0, 0)
    if not (
        isinstance(value, list)
        and len(value) == 4
        and value[0] == TRAILER_TAG
        and isinstance(value[1], int)
        and isinstance(value[2], int)
        and value[1] >= 0
        and 0 < value[2] <= 1 << 20
    ):
        raise MetadataError("malformed metadata pointer")
    _, offset, length, checksum = value
    packed = os.pread(fd, length, offset)
    if len(packed) != length or (
        hashlib.md5(packed, usedforsecurity=False).hexdigest() != checksum
    ):
        raise MetadataError("metadata trailer fails its checksum")
    metadata = unpack_metadata(packed)
    body_length = _body_length(metadata) if has_body else 0
    if body_length != offset:
        raise MetadataError("metadata trailer offset does not match Content-Length")
    return FileLayout(metadata, body_length, length)


def _body_length(metadata: dict) -> int:
    """The body length a `.data` file's metadata declares."""
    value = metadata.get("Content-Length")
    if value is None:
        raise MetadataError("no Content-Length in the metadata of a .data file")
    try:
        length = int(value)
    except ValueError:
        raise MetadataError(f"bad Content-Length in metadata: {value!r}") from None
    if length < 0:
        raise MetadataError("negative Content-Length in metadata")
    return length


def read_layout(path: str) -> FileLayout:
    """Like `read_layout_fd`, by path (a `.data` path has a body; anything else has none).

    OSError (e.g. FileNotFoundError) passes through.
    """
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return read_layout_fd(fd, has_body=path.endswith(".data"))
    finally:
        os.close(fd)


def read_metadata(path: str) -> dict:
    """The metadata dict of one object file, wherever it is stored."""
    return read_layout(path).metadata
