"""The object server's disk layer: where object files live and how they are written and read.

Layout (see ARCHITECTURE.md):
`<devices>/<dev>/objects/<partition>/<suffix>/<hash>/<timestamp>.data|.ts|.meta` (storage
policy N other than 0: `objects-N`, one `DiskFileManager` per policy), with
`suffix = hash[-3:]`, temp files in `<dev>/tmp/`, quarantined hash dirs in
`<dev>/quarantined/objects/<hash>[-n]/`, and dirty suffixes appended to
`<dev>/objects/<partition>/hashes.invalid` (under the partition's `.lock` flock).

Every write goes temp file -> body + block CRCs -> metadata (xattr or trailer, see
`storage.objects.metadata`) -> fsync -> rename into the hash dir -> fsync of the hash dir
(`storage.objects.writer`), then the directory's obsolete files
are removed (`storage.objects.ondisk_files`) and the suffix is marked dirty. Directories a new
object creates on the way (hash, suffix, partition) each have their entry fsynced in their parent.

Public API (used by the object server and the durability daemons):

* `DiskFileManager(devices_root, hasher, mount_check=False, objects_dir="objects",
  keep_cache_size=KEEP_CACHE_SIZE, keep_written_size=KEEP_WRITTEN_SIZE)`
  - `device_path(device)` -> path or None when missing / not a dir (-> 507)
  - `diskfile(device, partition, account, container, obj)` / `diskfile_from_hash(...)`
  - `hash_dir_path(device, partition, hash)`, `partition_path(device, partition)`
  - `iter_partitions(device)`, `iter_suffixes(device, partition)`,
    `iter_hashes(device, partition, suffix)`, `iter_hash_dirs(device)`
  - `cleanup_ondisk_files(hash_dir, reclaim_age=None)` -> `OnDiskFiles` (live/obsolete)
  - `read_metadata(path)`, `read_layout(path)` (metadata, body / CRC table / trailer lengths)
  - `write_replicated(device, partition, hash, filename, metadata, chunks)` -> path
  - `invalidate_suffix(device, partition, suffix)` (`storage.objects.suffix_hashes`)
  - `quarantine(path)` (a hash dir or a file in one) -> new path
* `DiskFile`: `open()` (raises `DiskFileNotFound` / `DiskFileDeleted` / `DiskFileExpired`;
  `DiskFileQuarantined` after moving away files whose metadata is corrupt or names another
  timestamp than the file),
  `.metadata`, `.data_metadata`, `.timestamp`, `.data_timestamp`, `.content_length`,
  `reader(...)` (`storage.objects.reader`: every block CRC-checked, `BodyMismatch` inside the
  iterator on corruption), `close()`, `ondisk()`, `writer()`, `write_metadata(md)`,
  `write_tombstone(md)`, `cleanup()`.
"""
from __future__ import annotations

import contextlib
import errno
import os
import time
import uuid

from common.timestamp import Timestamp
from storage.backend_common import is_partition
from storage.objects.expiry_markers import delete_at_of
from storage.objects.metadata import (
    FileLayout,
    MetadataError,
    check_file_timestamp,
    read_layout,
    read_layout_fd,
)
from storage.objects.ondisk_files import (
    OnDiskFiles,
    cleanup_ondisk_files,
    gather_ondisk_files,
    list_hash_dir,
    parse_filename,
    remove_obsolete,
)
from storage.objects.reader import CHUNK_SIZE, BodyMismatch, BodyReader
from storage.objects.suffix_hashes import invalidate_suffix
from storage.objects.writer import (
    KEEP_CACHE_SIZE,
    KEEP_WRITTEN_SIZE,
    DiskFileWriter,
    fsync_dir,
)

# Re-exported: the disk layer's whole API is importable from this module.
__all__ = [
    "CHUNK_SIZE", "BodyMismatch", "BodyReader", "DiskFile", "DiskFileDeleted", "DiskFileError",
    "DiskFileExpired", "DiskFileManager", "DiskFileNotFound", "DiskFileQuarantined",
    "DiskFileWriter", "FileLayout", "KEEP_CACHE_SIZE", "KEEP_WRITTEN_SIZE", "OnDiskFiles",
    "fsync_dir", "is_expired",
    "merge_metadata",
]

# Metadata keys a .meta (POST) replaces on top of the .data's metadata.
POST_REPLACED_HEADERS = frozenset(
    {"X-Delete-At", "Content-Disposition", "Content-Encoding", "X-Object-Manifest"}
)
USER_META_PREFIX = "X-Object-Meta-"


class DiskFileError(Exception):
    """Base of the disk layer's errors."""


class DiskFileNotFound(DiskFileError):
    """Nothing (no .data, no .ts) for this object."""


class DiskFileDeleted(DiskFileNotFound):
    """The newest write is a tombstone."""

    def __init__(self, timestamp: Timestamp):
        super().__init__(f"deleted at {timestamp.normal}")
        self.timestamp = timestamp


class DiskFileExpired(DiskFileNotFound):
    """The object exists but its X-Delete-At has passed."""

    def __init__(self, metadata: dict):
        super().__init__("expired")
        self.metadata = metadata
        self.timestamp = Timestamp(metadata["X-Timestamp"])


class DiskFileQuarantined(DiskFileNotFound):
    """The object's files were corrupt and have been moved to quarantine."""


def merge_metadata(data_metadata: dict, meta_metadata: dict | None) -> dict:
    """Apply a .meta's metadata (POST, fast-post semantics) on top of a .data's.

    User metadata (`X-Object-Meta-*`) and the POST-able headers are replaced as a whole;
    everything else (content type, ETag, length, sysmeta) stays from the .data.
    """
    if not meta_metadata:
        return dict(data_metadata)
    merged = {
        k: v
        for k, v in data_metadata.items()
        if not k.startswith(USER_META_PREFIX) and k not in POST_REPLACED_HEADERS
    }
    merged.update(meta_metadata)
    return merged


def is_expired(metadata: dict, now: float | None = None) -> bool:
    delete_at = delete_at_of(metadata)
    return delete_at is not None and delete_at <= (time.time() if now is None else now)


class DiskFileManager:
    """Entry point to one node's devices; holds nothing but paths and the path hasher."""

    def __init__(self, devices_root: str, hasher, mount_check: bool = False, run_blocking=None,
                 objects_dir: str = "objects", keep_cache_size: int = KEEP_CACHE_SIZE,
                 keep_written_size: int = KEEP_WRITTEN_SIZE, background=None):
        self.devices_root = devices_root
        # Larger bodies leave the page cache once read (BodyReader) / once written
        # (DiskFileWriter).
        self.keep_cache_size = keep_cache_size
        self.keep_written_size = keep_written_size
        # One manager per storage policy: `objects` for policy 0, `objects-<N>` for policy N.
        self.objects_dir = objects_dir
        self.hasher = hasher
        self.mount_check = mount_check
        # How slow disk calls (fsync, unlink) run: directly by default; the object server
        # passes a `common.blocking_calls` pool's `run`, so one fsync does not stall every
        # green thread.
        self.run_blocking = run_blocking or _call_directly
        # Where big obsolete files are unlinked: after the answer, by a
        # `common.blocking_calls.BackgroundCalls` when the object server passes one.
        self.background = background

    def remove_obsolete(self, hash_dir: str, names, remove_dir: bool) -> None:
        """Unlink obsolete files of `hash_dir` (and the dir if `remove_dir` and then empty).

        They are already invisible: every reader keeps only the newest files of a hash dir
        (`ondisk_files`), so a crash before the unlink leaves only work for the next cleanup
        (the replicator's suffix hashing cleans every hash dir it lists). Hence, when
        `BACKGROUND_UNLINK_BYTES` or more of `.data` go, the request does not wait for them:
        here an unlink costs ~0.35 ms per MiB (21 ms for 64 MiB, the root filesystem being
        mounted with `discard`). Smaller ones are unlinked before the answer, in a disk
        thread: handing them to the background thread cost more than it saved (4 KiB
        DELETEs at c16 on the all-in-one: 211-213 against 233-249 per second).
        """
        if self.background is not None and \
                _data_bytes(hash_dir, names) >= BACKGROUND_UNLINK_BYTES:
            self.background.start(remove_obsolete, hash_dir, names, remove_dir)
        else:
            self.run_blocking(remove_obsolete, hash_dir, names, remove_dir)

    # ---- paths ----
    def device_path(self, device: str) -> str | None:
        """The device's directory, or None when it is missing / not a dir / not mounted."""
        path = os.path.join(self.devices_root, device)
        if self.mount_check:
            return path if os.path.ismount(path) else None
        return path if os.path.isdir(path) else None

    def partition_path(self, device: str, partition: str | int) -> str:
        return os.path.join(self.devices_root, device, self.objects_dir, str(partition))

    def hash_dir_path(self, device: str, partition: str | int, hash_: str) -> str:
        return os.path.join(self.partition_path(device, partition), hash_[-3:], hash_)

    def tmp_dir(self, device: str) -> str:
        return os.path.join(self.devices_root, device, "tmp")

    def diskfile(self, device, partition, account, container, obj) -> DiskFile:
        hash_ = self.hasher.hash_path(account, container, obj)
        return DiskFile(self, device, partition, hash_, (account, container, obj))

    def diskfile_from_hash(self, device, partition, hash_) -> DiskFile:
        return DiskFile(self, device, partition, hash_)

    # ---- walking a device ----
    def iter_partitions(self, device: str):
        """Partition names (digit strings) of a device, in no particular order."""
        for name in _listdir(os.path.join(self.devices_root, device, self.objects_dir)):
            if is_partition(name):
                yield name

    def iter_suffixes(self, device: str, partition: str):
        for name in _listdir(self.partition_path(device, partition)):
            if len(name) == 3 and _is_hex(name):
                yield name

    def iter_hashes(self, device: str, partition: str, suffix: str):
        part_path = self.partition_path(device, partition)
        for name in _listdir(os.path.join(part_path, suffix)):
            if len(name) == 32 and name.endswith(suffix) and _is_hex(name):
                yield name

    def iter_hash_dirs(self, device: str):
        """(partition, suffix, hash, hash_dir_path) for every hash dir of the device."""
        for partition in self.iter_partitions(device):
            for suffix in self.iter_suffixes(device, partition):
                for hash_ in self.iter_hashes(device, partition, suffix):
                    yield partition, suffix, hash_, self.hash_dir_path(device, partition, hash_)

    # ---- files ----
    def cleanup_ondisk_files(self, hash_dir: str, reclaim_age: float | None = None):
        return cleanup_ondisk_files(hash_dir, reclaim_age)

    def read_metadata(self, path: str) -> dict:
        return read_layout(path).metadata

    def read_layout(self, path: str) -> FileLayout:
        return read_layout(path)

    def write_replicated(self, device, partition, hash_, filename, metadata, chunks) -> str:
        """Atomically store a file received from a peer (body chunks, then metadata).

        `filename` is `<timestamp>.data|.ts|.meta`; a `.data` body must have exactly
        `Content-Length` bytes (ValueError otherwise, nothing left behind). Obsolete files of
        the hash dir are cleaned up and the suffix is invalidated. Returns the final path.
        """
        info = parse_filename(filename)
        if info is None:
            raise ValueError(f"bad object file name: {filename!r}")
        if metadata.get("X-Timestamp") != info[0].normal:
            raise ValueError("metadata X-Timestamp does not match the file name")
        df = self.diskfile_from_hash(device, partition, hash_)
        with df.writer() as writer:
            for chunk in chunks:
                writer.write(chunk)
            if info[1] == ".data":
                if writer.bytes_written != int(metadata.get("Content-Length", -1)):
                    raise ValueError("body length does not match Content-Length")
            elif writer.bytes_written:
                raise ValueError(f"a {info[1]} file has no body")
            path = writer.commit(metadata, info[0], info[1])
        df.cleanup()
        return path

    # ---- suffix invalidation ----
    def invalidate_suffix(self, device: str, partition: str, suffix: str) -> None:
        """Record that `suffix` of `partition` changed (its cached hash must be recomputed)."""
        invalidate_suffix(self.partition_path(device, partition), suffix)

    # ---- quarantine ----
    def quarantine(self, path: str) -> str:
        """Move the hash dir of `path` (a hash dir or a file in one) out of the way.

        Goes to `<dev>/quarantined/objects/<hash>` (`<hash>-<uuid>` if taken); the suffix is
        invalidated so the replicator brings a good copy back. Returns the new path.
        """
        hash_dir = path if not parse_filename(os.path.basename(path)) else os.path.dirname(path)
        hash_dir = os.path.normpath(hash_dir)
        rel = os.path.relpath(hash_dir, self.devices_root).split(os.sep)
        if len(rel) != 5 or rel[1] != self.objects_dir:
            raise ValueError(f"not an object hash dir: {hash_dir}")
        device, _, partition, suffix, hash_ = rel
        qdir = os.path.join(self.devices_root, device, "quarantined", self.objects_dir)
        os.makedirs(qdir, exist_ok=True)
        target = os.path.join(qdir, hash_)
        try:
            os.rename(hash_dir, target)
        except OSError as exc:
            if exc.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
            target = f"{target}-{uuid.uuid4().hex}"
            os.rename(hash_dir, target)
        self.invalidate_suffix(device, partition, suffix)
        return target


class DiskFile:
    """One object (by hash) on one device: its state on disk, readers and writers."""

    def __init__(self, manager: DiskFileManager, device, partition, hash_, names=None):
        self.manager = manager
        # (account, container, object) when known; None when opened by hash
        self.names = names
        self.name = f"/{names[0]}/{names[1]}/{names[2]}" if names else None
        self.device = device
        self.partition = str(partition)
        self.hash = hash_
        self.suffix = hash_[-3:]
        self.device_path = os.path.join(manager.devices_root, device)
        self.hash_dir = manager.hash_dir_path(device, self.partition, hash_)
        self._listing: list[str] | None = None
        self._fd: int | None = None
        self.metadata: dict = {}
        self.data_metadata: dict = {}
        self.layout: FileLayout | None = None
        self.data_file: str | None = None

    # ---- state ----
    def ondisk(self, refresh: bool = False) -> OnDiskFiles:
        """Verdict on the hash dir's current listing (cached per DiskFile)."""
        if self._listing is None or refresh:
            self._listing = list_hash_dir(self.hash_dir)
        return gather_ondisk_files(self._listing)

    def open(self, check_expiry: bool = True) -> DiskFile:
        """Load metadata and keep the .data open for reading; raise when there is no object."""
        for _attempt in range(3):
            verdict = self.ondisk(refresh=_attempt > 0)
            if verdict.ts_file:
                raise DiskFileDeleted(Timestamp(verdict.ts_file[:16]))
            if not verdict.data_file:
                raise DiskFileNotFound(self.hash)
            try:
                self._open_files(verdict)
            except FileNotFoundError:
                continue  # a concurrent write cleaned the file up; list again
            if check_expiry and is_expired(self.metadata):
                self.close()
                raise DiskFileExpired(self.metadata)
            return self
        raise DiskFileNotFound(self.hash)

    def _open_files(self, verdict: OnDiskFiles) -> None:
        data_path = os.path.join(self.hash_dir, verdict.data_file)
        fd = os.open(data_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            layout = read_layout_fd(fd, has_body=True)
            check_file_timestamp(layout.metadata, verdict.data_file)
            meta_metadata = None
            if verdict.meta_file:
                meta_metadata = read_layout(os.path.join(self.hash_dir, verdict.meta_file))
                meta_metadata = meta_metadata.metadata
                check_file_timestamp(meta_metadata, verdict.meta_file)
        except MetadataError:
            os.close(fd)
            with contextlib.suppress(OSError, ValueError):  # already moved by someone else
                self.manager.quarantine(self.hash_dir)
            raise DiskFileQuarantined(self.hash) from None
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        self.data_file = data_path
        self.data_metadata = layout.metadata
        self.layout = layout
        self.metadata = merge_metadata(layout.metadata, meta_metadata)

    @property
    def timestamp(self) -> Timestamp:
        """Newest timestamp of the object (the .meta's when a POST came after the PUT)."""
        return Timestamp(self.metadata["X-Timestamp"])

    @property
    def data_timestamp(self) -> Timestamp:
        return Timestamp(self.data_metadata["X-Timestamp"])

    @property
    def content_length(self) -> int:
        return int(self.data_metadata["Content-Length"])

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def reader(self, ranges=None, verify: bool = True) -> BodyReader:
        """Iterator over the body (all of it, or `[(start, end_exclusive), ...]` pieces).

        Takes over the open file descriptor; the reader closes it.
        """
        if self._fd is None:
            raise DiskFileError("reader() needs open()")
        fd, self._fd = self._fd, None
        return BodyReader(self, fd, ranges, verify)

    # ---- writes ----
    def writer(self, compute_md5: bool = True) -> DiskFileWriter:
        return DiskFileWriter(self, compute_md5)

    def write_metadata(self, metadata: dict) -> str:
        """Write `<X-Timestamp>.meta` (a POST)."""
        return self._write_empty(metadata, ".meta")

    def write_tombstone(self, metadata: dict) -> str:
        """Write `<X-Timestamp>.ts` (a DELETE)."""
        return self._write_empty(metadata, ".ts")

    def _write_empty(self, metadata: dict, ext: str) -> str:
        with self.writer() as writer:
            path = writer.commit(metadata, Timestamp(metadata["X-Timestamp"]), ext)
        self.cleanup(added=os.path.basename(path))
        return path

    def cleanup(self, added: str | None = None) -> OnDiskFiles:
        """Remove obsolete files and mark the suffix dirty (after every write).

        With `added` (the name just written) and a listing already cached by `ondisk()` or
        `open()`, the directory is not listed again; only files known to be obsolete go.
        """
        if added is not None and self._listing is not None:
            names = [*self._listing, added]
        else:
            names = list_hash_dir(self.hash_dir)
        verdict = gather_ondisk_files(names)
        if verdict.obsolete:
            self.manager.remove_obsolete(self.hash_dir, verdict.obsolete, not verdict.live)
        self.manager.invalidate_suffix(self.device, self.partition, self.suffix)
        self._listing = None
        return verdict


# Obsolete `.data` bytes from which a request no longer waits for their unlink.
BACKGROUND_UNLINK_BYTES = 4 * 1024 * 1024


def _data_bytes(hash_dir: str, names) -> int:
    total = 0
    for name in names:
        if name.endswith(".data"):
            try:
                total += os.stat(os.path.join(hash_dir, name)).st_size
            except FileNotFoundError:
                pass
    return total


def _call_directly(func, *args):
    return func(*args)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


_HEX = frozenset("0123456789abcdef")


def _is_hex(text: str) -> bool:
    return all(c in _HEX for c in text)
