"""Reading an object's body: 64 KiB blocks, each checked against its CRC before it leaves.

`CheckedBody` reads an open `.data` (whole, or ranges through `iter_range`) in spans of up to
`READ_SIZE` (16 blocks: one pread, one socket write and one MD5 update per MiB instead of per
64 KiB; memory stays bounded by the span) and checks each block of a span against the file's
CRC table (`storage.objects.metadata`) before the span is handed out, so a flipped byte is
caught before any byte of its block leaves — whole reads and ranged reads alike; a proxy
resuming a cut stream elsewhere therefore never splices bad bytes into a response. A whole
read can also check the MD5 of the body against the stored ETag before the last span goes
out. A mismatch (or a short file) raises `BodyMismatch` inside the iterator; `CheckedBody`
itself changes nothing on disk, so the auditor uses it to find rot.

`BodyReader` is the `CheckedBody` of a GET and of a replication push (the WSGI body / the
SYNC body): on a mismatch it first quarantines the object through the disk layer (which
invalidates its suffix, so the peers' next replication pass pushes a good copy back), then
raises, so the response never ends cleanly. A body larger than the manager's
`keep_cache_size` is read with the kernel's read-ahead doubled and leaves the page cache when
the reader closes.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import struct

from common.crc32 import crc32
from storage.objects.metadata import CRC_ENTRY_SIZE

CHUNK_SIZE = 65536
READ_SIZE = 1024 * 1024  # bytes read (and handed to the server) at a time, whole blocks
CRC_WINDOW = 1024  # CRC entries read at a time: 4 KiB covering 64 MiB of body


class BodyMismatch(Exception):
    """The bytes on disk do not match their checksums (raised inside a body iterator)."""


class CheckedBody:
    """Checked reads of the body of one open `.data` (`fd`, its `FileLayout`); `label`
    names the file in errors. Never closes `fd` and never changes the file."""

    def __init__(self, fd: int, layout, label: str):
        self.fd = fd
        self.layout = layout
        self.label = label
        self.block_size = layout.block_size
        self._crc_first = 0
        self._crcs: tuple = ()

    def iter_whole(self, check_md5: bool):
        """The whole body; with `check_md5`, the last span waits for the MD5 check."""
        length = self.layout.body_length
        md5 = hashlib.md5(usedforsecurity=False) if check_md5 else None
        held = None  # the last chunk waits until the MD5 of the whole body is known
        for chunk in self.iter_range(0, length) if length else ():
            if held is not None:
                yield held
            if md5 is not None:
                md5.update(chunk)
            held = chunk
        if md5 is not None and md5.hexdigest() != self.layout.metadata.get("ETag"):
            self._fail("MD5 does not match the ETag")
        if held is not None:
            yield held

    def iter_range(self, start: int, end: int):
        """The bytes [start, end) of the body, every block checked first."""
        if not self.block_size:
            yield from self._iter_unchecked(start, end)
            return
        block = self.block_size
        length = self.layout.body_length
        span_blocks = max(READ_SIZE // block, 1)
        pos = start - start % block
        while pos < end:
            # whole blocks from pos up to the block holding end - 1, at most span_blocks
            last = min(end, length) - 1
            count = min(span_blocks, (last - pos) // block + 1)
            size = min(count * block, length - pos)
            data = self._read_span(pos, size)
            low, high = max(start - pos, 0), min(end - pos, size)
            yield data if (low, high) == (0, size) else data[low:high]
            pos += size

    def _read_span(self, pos: int, size: int) -> bytes:
        """`size` bytes at `pos` (a block boundary), every block CRC-checked."""
        block = self.block_size
        index = pos // block
        if pos == 0 and size == self.layout.body_length and size <= block:
            # a one-block body: the body and its single CRC are contiguous, read both at once
            raw = os.pread(self.fd, size + CRC_ENTRY_SIZE, 0)
            data, expected = raw[:size], raw[size:]
            expected = struct.unpack(">I", expected)[0] if len(expected) == 4 else None
            if len(data) != size or expected is None or crc32(data) != expected:
                self._fail(f"block {index} fails its CRC")
            return data
        data = os.pread(self.fd, size, pos)
        if len(data) != size:
            self._fail(f"block {index + len(data) // block} is short")
        view = memoryview(data)
        for offset in range(0, size, block):
            expected = self._crc_of(index)
            if expected is None or crc32(view[offset:offset + block]) != expected:
                self._fail(f"block {index} fails its CRC")
            index += 1
        return data

    def _crc_of(self, index: int) -> int | None:
        offset = index - self._crc_first
        if not 0 <= offset < len(self._crcs):
            blocks = -(-self.layout.body_length // self.block_size)
            count = min(CRC_WINDOW, blocks - index)
            raw = os.pread(self.fd, count * CRC_ENTRY_SIZE,
                           self.layout.body_length + index * CRC_ENTRY_SIZE)
            if len(raw) != count * CRC_ENTRY_SIZE:
                return None
            self._crc_first = index
            self._crcs = struct.unpack(f">{count}I", raw)
            offset = 0
        return self._crcs[offset]

    def _iter_unchecked(self, start: int, end: int):
        """Files without a CRC table (written by other tools): plain reads."""
        offset = start
        while offset < end:
            chunk = os.pread(self.fd, min(CHUNK_SIZE, end - offset), offset)
            if not chunk:
                self._fail("body shorter than expected")
            offset += len(chunk)
            yield chunk

    def _fail(self, reason: str):
        raise BodyMismatch(f"{self.label}: {reason}")


class BodyReader(CheckedBody):
    """Iterates a `.data` body; `ranges` is a list of (start, end_exclusive) or None.

    Owns `fd` (closed when the iteration ends or by `close()`); quarantines the object
    before raising `BodyMismatch`.
    """

    def __init__(self, diskfile, fd: int, ranges, verify: bool):
        super().__init__(fd, diskfile.layout, diskfile.data_file)
        self.diskfile = diskfile
        self.ranges = ranges
        self.verify = verify and not ranges
        # A large body is read ahead further and leaves the page cache once read (a body
        # leaves it after its PUT at a lower size: see `storage.objects.writer`).
        self.uncached = self.layout.body_length > diskfile.manager.keep_cache_size
        if self.uncached:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_SEQUENTIAL)

    def __iter__(self):
        try:
            if self.ranges:
                for start, end in self.ranges:
                    yield from self.iter_range(start, end)
                return
            yield from self.iter_whole(self.verify)
        finally:
            self.close()

    def _fail(self, reason: str):
        self._quarantine()
        super()._fail(reason)

    def _quarantine(self) -> None:
        # Only while the bad file is still there: a newer write may have replaced it since.
        if not os.path.exists(self.diskfile.data_file):
            return
        with contextlib.suppress(OSError, ValueError):
            self.diskfile.manager.quarantine(self.diskfile.data_file)

    def close(self) -> None:
        if self.fd is not None:
            if self.uncached:
                os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(self.fd)
            self.fd = None
