"""Object metadata on disk: msgpack in an xattr, or in a trailer when it is too big for one.

Every object file (`.data`, `.meta`, `.ts`) carries a metadata dict (str -> str) packed with
msgpack. ext4 holds only about 3.5 KB of xattrs per file, while the cluster allows 4096 bytes of
user metadata plus system metadata, so the packed dict is stored in one of two ways:

* inline: the xattr `user.brume.metadata` holds the packed dict itself (a msgpack *map*);
  used when it is at most `INLINE_LIMIT` bytes, the common case;
* trailer: the packed dict is written into the file right after the body (at offset
  `body_length`; for `.meta`/`.ts` files, which have no body, at offset 0) and the xattr holds a
  small msgpack *array* `[TRAILER_TAG, offset, length, md5-hex-of-packed-bytes]`.

A `.data` file written by `storage.objects.diskfile` also carries a table of CRC32s, one per
`BLOCK_SIZE` block of the body, right after the body (big-endian u32 each); its metadata then
holds `BLOCK_CRC_KEY` (the block size). Readers check every block before handing it out, so a
flipped bit is caught before any byte of its block leaves the server, on whole and ranged reads
alike. The layout of a `.data` is therefore: body | CRC table | metadata trailer (each part
possibly empty). Both tables are written before the file is fsynced and renamed into place, so
the file appears atomically with them. Readers of a body must stop at its `Content-Length`.
`MetadataError` means the metadata is missing or corrupt (`check_file_timestamp`: also when
it names another timestamp than its file): callers quarantine the file.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import msgpack

XATTR_NAME = "user.brume.metadata"
INLINE_LIMIT = 2048
TRAILER_TAG = "brume-trailer-v1"
BLOCK_SIZE = 65536
BLOCK_CRC_KEY = "Brume-Block-Crc32"  # metadata key (not a header); value: block size
CRC_ENTRY_SIZE = 4


class MetadataError(Exception):
    """The metadata of a file is missing, unreadable or fails its checksum."""


@dataclass(frozen=True)
class FileLayout:
    """Where things are in one object file: body bytes then (maybe) a metadata trailer."""

    metadata: dict
    body_length: int
    trailer_length: int
    crc_length: int = 0

    @property
    def expected_size(self) -> int:
        return self.body_length + self.crc_length + self.trailer_length

    @property
    def block_size(self) -> int:
        """Size of the CRC-checked blocks; 0 when the file has no CRC table."""
        return int(self.metadata[BLOCK_CRC_KEY]) if self.crc_length else 0


def crc_table_length(metadata: dict, body_length: int) -> int:
    """Bytes of the block CRC table that follows a body of `body_length` bytes."""
    value = metadata.get(BLOCK_CRC_KEY)
    if value is None:
        return 0
    if not (value.isascii() and value.isdigit()) or int(value) <= 0:
        raise MetadataError(f"bad {BLOCK_CRC_KEY} in metadata: {value[:32]!r}")
    block = int(value)
    return CRC_ENTRY_SIZE * ((body_length + block - 1) // block)


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


def write_metadata_fd(fd: int, metadata: dict, trailer_offset: int) -> None:
    """Attach `metadata` to the open file `fd`; a trailer would start at `trailer_offset`.

    `trailer_offset` is where the file's content ends: the body length, plus the CRC table
    when there is one. Must be called before the file is fsynced and renamed into place.
    """
    packed = pack_metadata(metadata)
    if len(packed) <= INLINE_LIMIT:
        os.setxattr(fd, XATTR_NAME, packed)
        return
    view = memoryview(packed)
    offset = trailer_offset
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written
    checksum = hashlib.md5(packed, usedforsecurity=False).hexdigest()
    pointer = msgpack.packb([TRAILER_TAG, trailer_offset, len(packed), checksum])
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
        if not has_body:
            return FileLayout(metadata, 0, 0)
        body_length = _body_length(metadata)
        return FileLayout(metadata, body_length, 0, crc_table_length(metadata, body_length))
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
    crc_length = crc_table_length(metadata, body_length) if has_body else 0
    if body_length + crc_length != offset:
        raise MetadataError("metadata trailer offset does not match Content-Length")
    return FileLayout(metadata, body_length, length, crc_length)


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


def check_file_timestamp(metadata: dict, file_name: str) -> None:
    """The metadata of `<timestamp>.<ext>` must name that timestamp: metadata that decodes but
    belongs to another write is as corrupt as garbage (MetadataError)."""
    if metadata.get("X-Timestamp") != file_name[:16]:
        raise MetadataError("X-Timestamp does not match the file name")


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
