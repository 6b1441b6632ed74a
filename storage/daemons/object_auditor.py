"""The object auditor: finds bit rot and broken metadata before a user does.

Each pass walks every hash dir of every local device and checks its live files at no more
than `bytes_per_second` (and `files_per_second`):

* metadata readable (xattr or checksummed trailer, `storage.objects.metadata`), with an
  `X-Timestamp` equal to the file's name;
* for a `.data`: file size = Content-Length (+ CRC table + metadata trailer), every block
  of the body matches its CRC and the MD5 of the body equals the stored ETag — the same
  checks a GET makes (`storage.objects.reader.CheckedBody`), so a replica a read would refuse
  (a flipped byte in the body or in the CRC table) is found without any read.

A file failing any check gets its whole hash dir moved to `<dev>/quarantined/objects/` by the
disk layer, which invalidates the suffix: the peers' next replication pass then sees the
difference and pushes a good copy back. Files removed by a concurrent write are skipped.
"""
from __future__ import annotations

import os
import time

from common.config import Option
from storage.daemons.context import Daemon, daemon_options
from storage.daemons.rate_limit import RateLimiter
from storage.objects.diskfile import KEEP_CACHE_SIZE, DiskFileManager
from storage.objects.metadata import MetadataError, check_file_timestamp, read_layout_fd
from storage.objects.ondisk_files import gather_ondisk_files, list_hash_dir
from storage.objects.reader import BodyMismatch, CheckedBody


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
            check_file_timestamp(layout.metadata, name)
        except MetadataError as exc:
            raise AuditFailure(f"metadata: {exc}") from None
        size = os.fstat(fd).st_size
        if size != layout.expected_size:
            raise AuditFailure(f"size {size} != expected {layout.expected_size}")
        if not name.endswith(".data"):
            return 0
        read = 0
        try:
            for chunk in CheckedBody(fd, layout, name).iter_whole(check_md5=True):
                read += len(chunk)
                if on_chunk is not None:
                    on_chunk(len(chunk))
        except BodyMismatch as exc:
            raise AuditFailure(str(exc)) from None
        finally:
            if layout.body_length > KEEP_CACHE_SIZE:  # as a GET of it would (BodyReader)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return read
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
        byte_limit = RateLimiter(self.conf["bytes_per_second"])
        file_limit = RateLimiter(self.conf["files_per_second"])
        counts = {"files": 0, "bytes": 0, "quarantined": 0, "failures": 0}
        started = time.monotonic()

        def on_chunk(length: int) -> None:
            byte_limit.consume(length)
            time.sleep(0)  # let other green threads run between chunks

        for disk in self._policy_disks():
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

    def _policy_disks(self) -> list:
        """A DiskFileManager per storage policy (`objects`, `objects-N`), rings or not: the
        audit reads only local files."""
        return [DiskFileManager(self.node.devices, None, self.node.mount_check,
                                objects_dir=policy.objects_dir)
                for policy in self.node.policies()]

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
