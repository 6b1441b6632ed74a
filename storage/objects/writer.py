"""Writing one object file atomically: temp file -> body + block CRCs -> metadata -> fsync ->
rename into the hash dir -> fsync of the hash dir.

`DiskFileWriter` streams a body to `<dev>/tmp/` while computing its MD5 (the ETag; not when
the proxy sent it, see `storage.objects.put_footer`) and one CRC32 per `BLOCK_SIZE` block of
the body. `commit()` appends the CRC table (for `.data`
files; see `storage.objects.metadata` for the layout), attaches the metadata, and makes the
file durable under its final name. Leaving the `with` block without committing removes the
temp file, so a failed or refused upload leaves nothing behind.

A `.data` or `.meta` whose metadata holds `X-Delete-At` first gets its expiry marker
(`storage.objects.expiry_markers`), made durable before the file is renamed into place.

Once durable, a body larger than the manager's `keep_written_size` (64 KiB by default)
leaves the page cache, as Swift's object server drops everything it wrote: on this project's
machines, each MiB written costs 0.3 ms of CPU while the page cache is recycled, but about
3 ms once it keeps growing by gigabytes, as it does under a stream of PUTs whose bodies stay
cached (1 MiB PUTs at concurrency 8 went from 62-85 to 124-130 per second when their bodies
stopped staying). Small bodies stay for the GETs that often follow; a GET caches what it
reads up to `keep_cache_size` (`storage.objects.reader`). While a large body arrives, the
kernel's writeback of it is started every `WRITEBACK_STEP` bytes, so the commit's fsync
waits for the last few MiB rather than the whole body.
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import struct
import uuid

from common.atomic_files import fsync_dir, fsync_parents, make_missing_dirs
from common.crc32 import crc32
from common.timestamp import Timestamp
from storage.objects.expiry_markers import Marker, delete_at_of, write_marker
from storage.objects.metadata import BLOCK_CRC_KEY, BLOCK_SIZE, write_metadata_fd

_CRC = struct.Struct(">I")
# Bodies up to this size stay in the page cache after a GET reads them (Swift's
# keep_cache_size).
KEEP_CACHE_SIZE = 5 * 1024 * 1024
# Bodies up to this size stay in the page cache after their PUT.
KEEP_WRITTEN_SIZE = 64 * 1024
# A body's writeback is started every this many bytes while it is received.
WRITEBACK_STEP = 8 * 1024 * 1024
# Renames into the hash dir tried before a commit fails: each retry follows a cleanup that
# removed the (empty) hash or suffix dir the file was about to go into.
RENAME_ATTEMPTS = 3
# Files whose metadata's X-Delete-At gets an expiry marker (`storage.objects.expiry_markers`).
MARKED_EXTS = (".data", ".meta")


class BlockCrcs:
    """CRC32 of every BLOCK_SIZE block of a stream fed in chunks of any size."""

    def __init__(self, block_size: int = BLOCK_SIZE):
        self.block_size = block_size
        self.table = bytearray()
        self._crc = 0
        self._fill = 0

    def update(self, chunk) -> None:
        view = memoryview(chunk)
        while view:
            take = min(self.block_size - self._fill, len(view))
            self._crc = crc32(view[:take], self._crc)
            self._fill += take
            view = view[take:]
            if self._fill == self.block_size:
                self.table += _CRC.pack(self._crc)
                self._crc = 0
                self._fill = 0

    def finish(self) -> bytes:
        if self._fill:
            self.table += _CRC.pack(self._crc)
            self._crc = 0
            self._fill = 0
        return bytes(self.table)


class DiskFileWriter:
    """Streams one new file of `diskfile` to `<dev>/tmp/`, then commits it atomically.

    Use as a context manager: leaving the block without `commit()` removes the temp file.
    """

    def __init__(self, diskfile, compute_md5: bool = True):
        self.diskfile = diskfile
        self.md5 = hashlib.md5(usedforsecurity=False) if compute_md5 else None
        self.crcs = BlockCrcs()
        self.bytes_written = 0
        self.flushed = 0  # bytes whose writeback has been started
        tmp_dir = diskfile.manager.tmp_dir(diskfile.device)
        self.tmp_path = os.path.join(tmp_dir, f".{uuid.uuid4().hex}.tmp")
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        try:
            self.fd = os.open(self.tmp_path, flags, 0o644)
        except FileNotFoundError:
            os.makedirs(tmp_dir, exist_ok=True)
            self.fd = os.open(self.tmp_path, flags, 0o644)
        self.committed = False

    def __enter__(self) -> DiskFileWriter:
        return self

    def __exit__(self, *exc_info) -> None:
        if not self.committed:
            self.abort()

    def write(self, chunk: bytes) -> None:
        if self.md5 is not None:
            self.md5.update(chunk)
        self.crcs.update(chunk)
        # pwrite at our own offset: under eventlet's monkey-patching os.write costs an extra
        # fstat per call (it checks whether the fd is a regular file); pwrite is left alone.
        view = memoryview(chunk)
        offset = self.bytes_written
        while view:
            written = os.pwrite(self.fd, view, offset)
            view = view[written:]
            offset += written
        self.bytes_written = offset
        if offset - self.flushed >= WRITEBACK_STEP and \
                offset > self.diskfile.manager.keep_written_size:
            # Start the kernel's writeback of what is written so far (DONTNEED starts it
            # without waiting; pages still dirty stay), so the commit's fsync finds little
            # left to write instead of the whole body.
            os.posix_fadvise(self.fd, self.flushed, offset - self.flushed,
                             os.POSIX_FADV_DONTNEED)
            self.flushed = offset

    @property
    def etag(self) -> str:
        """The body's MD5 (only for a writer that computes it)."""
        if self.md5 is None:
            raise ValueError("this writer does not compute the body's MD5")
        return self.md5.hexdigest()

    def commit(self, metadata: dict, timestamp: Timestamp, ext: str) -> str:
        """Attach metadata, fsync, rename to `<timestamp><ext>`, fsync the hash dir.

        For a `.data`, the block CRC table goes after the body and `BLOCK_CRC_KEY` is added
        to the stored metadata. Returns the final path.
        """
        return self.diskfile.manager.run_blocking(self._commit, metadata, timestamp, ext)

    def _commit(self, metadata: dict, timestamp: Timestamp, ext: str) -> str:
        content_end = self.bytes_written
        if ext == ".data":
            table = self.crcs.finish()
            metadata = {**metadata, BLOCK_CRC_KEY: str(self.crcs.block_size)}
            view = memoryview(table)
            while view:
                written = os.pwrite(self.fd, view, content_end)
                view = view[written:]
                content_end += written
        write_metadata_fd(self.fd, metadata, content_end)
        delete_at = delete_at_of(metadata) if ext in MARKED_EXTS else None
        if delete_at is not None:
            # Before the object can be seen: an object that expires always has its marker.
            df = self.diskfile
            write_marker(df.device_path, Marker(delete_at, df.manager.objects_dir,
                                                df.partition, df.hash))
        hash_dir = self.diskfile.hash_dir
        # A new object: its hash dir (and maybe suffix/partition dirs) is made before the
        # fsync, which on a journaled ext4 commits the mkdirs with the file; their entries
        # are fsynced in their parents after the rename, where they find them committed.
        # Measured with 8 threads writing new 4 KiB objects on a journaled ext4: 1056-1091
        # against 928-977 objects/s (this machine's root ext4, which has no journal: even).
        created = make_missing_dirs(hash_dir)
        os.fsync(self.fd)
        if self.bytes_written > self.diskfile.manager.keep_written_size:
            os.posix_fadvise(self.fd, 0, 0, os.POSIX_FADV_DONTNEED)  # clean pages: cheap
        os.close(self.fd)
        self.fd = None
        target = os.path.join(hash_dir, timestamp.normal + ext)
        for attempt in range(RENAME_ATTEMPTS):
            try:
                os.rename(self.tmp_path, target)
                break
            except FileNotFoundError:
                if attempt == RENAME_ATTEMPTS - 1:
                    raise
            # An empty hash or suffix dir may be removed by a cleanup or a replicator's
            # suffix hashing between the mkdir and the rename: then it is made again.
            created += make_missing_dirs(hash_dir)
        self.committed = True
        fsync_dir(hash_dir)
        fsync_parents(created)
        return target

    def abort(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.tmp_path)
