"""The object auditor: finds bit rot and broken metadata before a user does.

Each pass walks every hash dir of every local device and checks its live files at no more
than `bytes_per_second` (and `files_per_second`):

* metadata readable (xattr or checksummed trailer, `storage.object_metadata`), with an
  `X-Timestamp` equal to the file's name;
* for a `.data`: file size = Content-Length (+ metadata trailer), and the MD5 of the body
  equals the stored ETag.

A file failing any check gets its whole hash dir moved to `<dev>/quarantined/objects/` by the
disk layer, which invalidates the suffix: the replicator then sees the difference and pushes a
good copy back from another replica. Files removed by a concurrent write are skipped.
"""
from __future__ import annotations

import hashlib
import os
import time

from storage.config import Option
from storage.daemon_context import Daemon, daemon_options
from storage.diskfile import DiskFileManager
from storage.object_metadata import MetadataError, read_layout_fd
from storage.ondisk_files import gather_ondisk_files, list_hash_dir
from storage.rate_limit import RateLimiter

CHUNK = 65536


class AuditFailure(Exception):
    """Why a file is bad, in one line."""


def audit_file(path: str, on_chunk=None) -> int:
    """Check one object file; return the body bytes read; raise AuditFailure when bad.

    FileNotFoundError passes through (the file was replaced meanwhile).
    """
    name = os.path.basename(path)
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        try:
            layout = read_layout_fd(fd, has_body=name.endswith(".data"))
        except MetadataError as exc:
            raise AuditFailure(f"metadata: {exc}") from None
        if layout.metadata.get("X-Timestamp") != name[:16]:
            raise AuditFailure("X-Timestamp does not match the file name")
        size = os.fstat(fd).st_size
        if size != layout.expected_size:
            raise AuditFailure(f"size {size} != expected {layout.expected_size}")
        if not name.endswith(".data"):
            return 0
        md5 = hashlib.md5(usedforsecurity=False)
        offset = 0
        while offset < layout.body_length:
            chunk = os.pread(fd, min(CHUNK, layout.body_length - offset), offset)
            if not chunk:
                raise AuditFailure("body shorter than Content-Length")
            md5.update(chunk)
            offset += len(chunk)
            if on_chunk is not None:
                on_chunk(len(chunk))
        if md5.hexdigest() != layout.metadata.get("ETag"):
            raise AuditFailure("MD5 of the body does not match the ETag")
        return offset
    finally:
        os.close(fd)


class ObjectAuditor(Daemon):
    name = "object-auditor"
    OPTIONS = daemon_options(
        300.0,
        Option("bytes_per_second", float, 10_000_000.0, help="read rate cap; 0: unlimited"),
        Option("files_per_second", float, 20.0, help="files checked per second; 0: unlimited"),
    )

    def run_once(self) -> dict:
        disk = DiskFileManager(self.node.devices, None, self.node.mount_check)
        byte_limit = RateLimiter(self.conf["bytes_per_second"])
        file_limit = RateLimiter(self.conf["files_per_second"])
        counts = {"files": 0, "bytes": 0, "quarantined": 0, "failures": 0}
        started = time.monotonic()

        def on_chunk(length: int) -> None:
            byte_limit.consume(length)
            time.sleep(0)  # let other green threads run between chunks

        for device in self.node.local_devices():
            for _part, _suffix, _hash, hash_dir in disk.iter_hash_dirs(device):
                for name in gather_ondisk_files(list_hash_dir(hash_dir)).live:
                    path = os.path.join(hash_dir, name)
                    try:
                        counts["bytes"] += audit_file(path, on_chunk)
                    except FileNotFoundError:
                        continue
                    except AuditFailure as exc:
                        self._quarantine(disk, path, str(exc), counts)
                        break
                    except OSError as exc:
                        self.logger.error("cannot audit %s: %s", path, exc)
                        counts["failures"] += 1
                        continue
                    counts["files"] += 1
                    file_limit.consume(1)
        elapsed = max(time.monotonic() - started, 1e-6)
        counts["bytes_per_second"] = round(counts["bytes"] / elapsed)
        return counts

    def _quarantine(self, disk, path: str, reason: str, counts: dict) -> None:
        if not os.path.exists(path):
            return  # replaced by a newer write meanwhile
        try:
            target = disk.quarantine(path)
        except (OSError, ValueError) as exc:
            self.logger.error("cannot quarantine %s: %s", path, exc)
            counts["failures"] += 1
            return
        counts["quarantined"] += 1
        self.logger.warning("quarantined %s (%s) to %s", path, reason, target)
