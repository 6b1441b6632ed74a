"""Per-instance disks made from a cached base image with qemu-img.

A qcow2 (or raw, vmdk, vdi, vhd, vhdx) base gets a per-instance qcow2 overlay backed by the
read-only cached file, grown to the flavor's root disk size when that is larger than the
image. An ISO is attached read-only as a CD-ROM, with a blank qcow2 root disk of the
flavor's size beside it. Kernel (`aki`) and ramdisk (`ari`) images are not disks: they are
used for direct kernel boot of another image and cannot be booted on their own.

Before any of that the agent checks the cached base itself (`check_base`), whatever the image
service said: the image service's own inspection
(`common.image_formats.format_inspect.inspect_file`, pure Python, which opens nothing but
the file), then `qemu-img info --output=json -f
<declared format>` under a CPU and memory limit; a backing file, an external data file, a
VMDK extent other than the file itself, or a format other than the declared one raises
`UnsafeBase`.

`flatten_copy` makes the standalone qcow2 a snapshot or a move uploads (`qemu-img convert` of
the overlay and its backing chain).
"""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass

from common.image_formats.format_inspect import inspect_file

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
# What qemu-img reads the bases as, for the check (ISOs, kernels and ramdisks are raw bytes).
CHECKED_AS = {**QEMU_FORMATS, "iso": "raw", "aki": "raw", "ari": "raw"}
# qemu-img on a hostile image must not eat the host (Nova's limits): CPU seconds, bytes.
QEMU_IMG_INFO_LIMITS = ("--cpu=30", f"--as={1024**3}")


class DiskError(Exception):
    """A disk could not be made; the message is a server fault."""


class QemuImgFailed(DiskError):
    """qemu-img ran and exited non-zero (or was stopped by its limits)."""


class UnsafeBase(DiskError):
    """The cached base is not what its image claims or would make QEMU read other files."""


@dataclass(frozen=True)
class InstanceDisks:
    root_path: str | None  # what the domain boots from (None for none)
    root_format: str  # qcow2 | iso
    extra_root_path: str | None = None  # the blank root disk next to an ISO


def _qemu_img(*args: str, limits: tuple[str, ...] = ()) -> str:
    command = ["qemu-img", *args]
    if limits:
        command = ["prlimit", *limits, "--", *command]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    except FileNotFoundError:
        raise DiskError(f"{command[0]} not installed on this host") from None
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise QemuImgFailed(
            f"qemu-img {args[0]} failed: {lines[-1] if lines else result.returncode}")
    return result.stdout


def virtual_size(path: str, qemu_format: str) -> int:
    info = json.loads(_qemu_img("info", "--output=json", "-f", qemu_format, path))
    return int(info["virtual-size"])


def check_base(path: str, disk_format: str) -> None:
    """Raise UnsafeBase unless the file at `path` is a safe image of `disk_format`."""
    qemu_format = CHECKED_AS.get(disk_format)
    if qemu_format is None:
        raise DiskError(f"disk_format {disk_format!r} is not supported on this host")
    try:
        reason = inspect_file(path, disk_format)
    except OSError as exc:
        raise DiskError(f"cannot read the cached image: {exc}") from None
    if reason:
        raise UnsafeBase(reason)
    qemu_img_check(path, qemu_format)


def qemu_img_check(path: str, qemu_format: str) -> None:
    """What `qemu-img info -f <qemu_format>` says, limited: UnsafeBase if QEMU would read
    more than `path` (or cannot read it as that format at all)."""
    try:
        info = json.loads(_qemu_img("info", "--output=json", "-f", qemu_format, path,
                                    limits=QEMU_IMG_INFO_LIMITS))
    except QemuImgFailed as exc:
        raise UnsafeBase(f"not readable as {qemu_format}: {exc}") from None
    except ValueError:
        raise UnsafeBase("qemu-img info printed no JSON") from None
    reason = _unsafe_info(info, path, qemu_format)
    if reason:
        raise UnsafeBase(reason)


def _unsafe_info(info: dict, path: str, qemu_format: str) -> str | None:
    """What in `qemu-img info`'s answer says QEMU would read more than `path` as it."""
    if info.get("format") != qemu_format:
        return f"qemu-img reads it as {info.get('format')!r}, not {qemu_format!r}"
    backing = info.get("full-backing-filename") or info.get("backing-filename")
    if backing:
        return f"it has a backing file ({backing})"
    details = (info.get("format-specific") or {}).get("data") or {}
    if details.get("data-file"):
        return f"it has an external data file ({details['data-file']})"
    own = os.path.realpath(path)
    for extent in details.get("extents") or ():
        name = extent.get("filename") or ""
        if os.path.realpath(os.path.join(os.path.dirname(own), name)) != own:
            return f"it has an extent in another file ({name})"
    return None


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


def flatten_copy(disk: str, dest: str) -> None:
    """A standalone qcow2 copy of an instance disk and its backing chain at `dest` (what a
    snapshot uploads). `-U`: a paused guest's QEMU still holds the disk's lock; the caller
    makes sure nothing writes to it meanwhile."""
    tmp = dest + ".tmp"
    try:
        _qemu_img("convert", "-U", "-q", "-f", "qcow2", "-O", "qcow2", disk, tmp)
        os.replace(tmp, dest)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
