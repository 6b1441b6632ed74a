"""Per-instance disks made from a cached base image with qemu-img.

A qcow2 (or raw, vmdk, vdi, vhd, vhdx) base gets a per-instance qcow2 overlay backed by the
read-only cached file, grown to the flavor's root disk size when that is larger than the
image. An ISO is attached read-only as a CD-ROM, with a blank qcow2 root disk of the
flavor's size beside it. Kernel (`aki`) and ramdisk (`ari`) images are not disks: they are
used for direct kernel boot of another image and cannot be booted on their own.
"""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

GiB = 1024**3

# Glance disk_format -> qemu-img format name
QEMU_FORMATS = {
    "qcow2": "qcow2",
    "raw": "raw",
    "ami": "raw",
    "vmdk": "vmdk",
    "vdi": "vdi",
    "vhd": "vpc",
    "vhdx": "vhdx",
}
NOT_BOOTABLE = {"aki", "ari"}


class DiskError(Exception):
    """A disk could not be made; the message is a server fault."""


@dataclass(frozen=True)
class InstanceDisks:
    root_path: str | None  # what the domain boots from (None for none)
    root_format: str  # qcow2 | iso
    extra_root_path: str | None = None  # the blank root disk next to an ISO


def _qemu_img(*args: str) -> str:
    try:
        result = subprocess.run(["qemu-img", *args], capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise DiskError("qemu-img not installed on this host") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise DiskError(f"qemu-img {args[0]} failed: {lines[-1] if lines else result.returncode}")
    return result.stdout


def virtual_size(path: str, qemu_format: str) -> int:
    info = json.loads(_qemu_img("info", "--output=json", "-f", qemu_format, path))
    return int(info["virtual-size"])


def create_overlay(base: str, base_format: str, dest: str, min_size: int = 0) -> None:
    """qcow2 overlay `dest` on `base`, at least `min_size` bytes of virtual size."""
    size = max(virtual_size(base, base_format), min_size)
    tmp = dest + ".tmp"
    _qemu_img("create", "-q", "-f", "qcow2", "-F", base_format, "-b", base, tmp, str(size))
    os.replace(tmp, dest)


def create_blank(dest: str, size: int) -> None:
    tmp = dest + ".tmp"
    _qemu_img("create", "-q", "-f", "qcow2", tmp, str(size))
    os.replace(tmp, dest)


def prepare_disks(
    disk_format: str, base_path: str, root_gb: int, instance_dir: str
) -> InstanceDisks:
    """Make the instance's disks in `instance_dir` for an image of `disk_format`."""
    if disk_format in NOT_BOOTABLE:
        raise DiskError(f"a {disk_format} image is a kernel/ramdisk and cannot be booted alone")
    root_size = max(0, int(root_gb)) * GiB
    if disk_format == "iso":
        blank = None
        if root_size:
            blank = os.path.join(instance_dir, "disk")
            create_blank(blank, root_size)
        return InstanceDisks(root_path=base_path, root_format="iso", extra_root_path=blank)
    qemu_format = QEMU_FORMATS.get(disk_format)
    if qemu_format is None:
        raise DiskError(f"disk_format {disk_format!r} is not supported on this host")
    disk = os.path.join(instance_dir, "disk")
    create_overlay(base_path, qemu_format, disk, root_size)
    return InstanceDisks(root_path=disk, root_format="qcow2")


def backing_file(path: str) -> str | None:
    """The backing file a qcow2 overlay relies on (None if none)."""
    info = json.loads(_qemu_img("info", "--output=json", "-U", path))
    return info.get("full-backing-filename") or info.get("backing-filename")
