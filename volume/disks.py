"""Volume files on the volume service's node: raw, sparse, one per volume (and snapshot).

A volume is `<volumes_dir>/volume-<id>`, a raw file of exactly its size in GiB, sparse (a
blank volume takes no space until written). Raw keeps every reader simple: QEMU reaches it
through `qemu-nbd -f raw` (`volume.exports`), a backup reads it chunk by chunk and a host
can compare two volumes byte for byte. A snapshot is `snapshot-<id>`, a sparse copy
(`cp --sparse=always`, a reflink where the filesystem has them). Every file is made under a
temporary name and renamed into place, so a failure leaves no half-made volume. An image
becomes a volume by `qemu-img convert -f <its disk_format> -O raw` after the image's bytes
passed `common.image_formats.format_inspect.inspect_file` (no backing or data file, no
foreign extent, the declared format) and only if its virtual size fits the volume.
Failures are `DiskError` with one line.
"""
from __future__ import annotations

import json
import os
import subprocess

from common.image_formats.format_inspect import inspect_file

GiB = 1024**3
QEMU_FORMATS = {"raw": "raw", "qcow2": "qcow2", "vmdk": "vmdk", "vdi": "vdi", "vhd": "vpc",
                "vhdx": "vhdx", "ami": "raw"}
# qemu-img on a hostile image must not eat the host: CPU seconds, address space.
QEMU_IMG_LIMITS = ("--cpu=120", f"--as={2 * 1024**3}")


class DiskError(Exception):
    """A volume file could not be made or changed."""


def _run(command: list[str], what: str, limits: bool = False) -> str:
    if limits:
        command = ["prlimit", *QEMU_IMG_LIMITS, "--", *command]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    except FileNotFoundError:
        raise DiskError(f"{what}: {command[0]} is not installed on this host") from None
    except subprocess.TimeoutExpired:
        raise DiskError(f"{what}: timed out") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise DiskError(f"{what} failed: {lines[-1] if lines else result.returncode}")
    return result.stdout


class VolumeFiles:
    """The volume files of one node."""

    def __init__(self, directory: str):
        self.directory = directory
        os.makedirs(directory, exist_ok=True)

    def volume_path(self, volume_id: str) -> str:
        return os.path.join(self.directory, f"volume-{volume_id}")

    def snapshot_path(self, snapshot_id: str) -> str:
        return os.path.join(self.directory, f"snapshot-{snapshot_id}")

    def _temp(self, path: str) -> str:
        return path + ".part"

    def create_blank(self, path: str, size_gb: int) -> None:
        temp = self._temp(path)
        with open(temp, "wb") as handle:
            handle.truncate(size_gb * GiB)
        os.replace(temp, path)

    def copy(self, source: str, path: str, size_gb: int | None = None) -> None:
        """A sparse copy of `source` at `path`, grown to `size_gb` when given."""
        temp = self._temp(path)
        try:
            _run(["cp", "--sparse=always", "--reflink=auto", source, temp], "copy")
            if size_gb is not None and size_gb * GiB > os.path.getsize(temp):
                os.truncate(temp, size_gb * GiB)
            os.replace(temp, path)
        except BaseException:
            self._discard(temp)
            raise

    def from_image(self, image_file: str, disk_format: str, path: str, size_gb: int) -> int:
        """Convert a downloaded image into the raw volume `path` of `size_gb`; returns the
        image's virtual size in bytes."""
        qemu_format = QEMU_FORMATS.get(disk_format)
        if qemu_format is None:
            raise DiskError(f"an image of disk_format {disk_format} cannot become a volume")
        reason = inspect_file(image_file, disk_format)
        if reason:
            raise DiskError(f"the image is unsafe or not {disk_format}: {reason}")
        info = json.loads(_run(["qemu-img", "info", "--output=json", "-f", qemu_format,
                                image_file], "qemu-img info", limits=True))
        virtual = int(info.get("virtual-size") or 0)
        if virtual > size_gb * GiB:
            raise DiskError(f"the image's virtual size ({virtual} bytes) is larger than the "
                            f"volume ({size_gb} GiB)")
        temp = self._temp(path)
        try:
            _run(["qemu-img", "convert", "-q", "-f", qemu_format, "-O", "raw", "-S", "64k",
                  image_file, temp], "qemu-img convert", limits=True)
            os.truncate(temp, size_gb * GiB)
            os.replace(temp, path)
        except BaseException:
            self._discard(temp)
            raise
        return virtual

    def extend(self, path: str, size_gb: int) -> None:
        if os.path.getsize(path) > size_gb * GiB:
            raise DiskError("a volume cannot shrink")
        os.truncate(path, size_gb * GiB)

    def remove(self, path: str) -> None:
        self._discard(path)
        self._discard(self._temp(path))

    @staticmethod
    def _discard(path: str) -> None:
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass

    def new_restore_target(self, path: str, size_gb: int) -> str:
        """A sparse temporary file of `size_gb` that a restore writes, then `commit`s."""
        temp = self._temp(path)
        with open(temp, "wb") as handle:
            handle.truncate(size_gb * GiB)
        return temp

    def commit(self, temp: str, path: str) -> None:
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(temp, path)
