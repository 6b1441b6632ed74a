"""Checking that uploaded bytes are what their declared `disk_format` says.

A hypervisor trusts the format it is told. Raw bytes labelled qcow2 (or a qcow2 labelled raw)
make it interpret the data differently than the owner meant, and a qcow2 that names a backing
file or an external data file makes it open a path on the host. So the upload path feeds the
first `HEAD_SIZE` bytes and the last `TAIL_SIZE` bytes to `FormatInspector`, which answers with
a one-line reason to reject, or None. It also derives `virtual_size` where the header has it.
"""
from __future__ import annotations

import struct

HEAD_SIZE = 64 * 1024
TAIL_SIZE = 512

QCOW2_MAGIC = b"QFI\xfb"
QCOW2_EXT_END = 0x00000000
QCOW2_EXT_DATA_FILE = 0x44415441
QCOW2_INCOMPAT_DATA_FILE = 1 << 2
QCOW2_KNOWN_INCOMPAT = 0x1F
VMDK_MAGIC = b"KDMV"
VMDK_SAFE_TYPES = ("monolithicSparse", "streamOptimized")
VHDX_MAGIC = b"vhdxfile"
VHD_COOKIE = b"conectix"
VDI_SIGNATURE = 0xBEDA107F
ISO_OFFSET = 32769
ISO_MARKERS = (b"CD001", b"BEA01", b"NSR02", b"NSR03")
PLOOP_MAGICS = (b"WithoutFreeSpace", b"WithouFreSpacExt")
RAWISH = ("raw", "ami", "aki", "ari")
INSPECTED_CONTAINERS = (None, "bare", "ami", "aki", "ari")


def looks_like(head: bytes) -> str | None:
    """The format whose unambiguous signature starts these bytes, if any."""
    if head.startswith(QCOW2_MAGIC):
        return "qcow2"
    if head.startswith(VMDK_MAGIC):
        return "vmdk"
    if head.startswith(VHDX_MAGIC):
        return "vhdx"
    if len(head) >= 0x44 and struct.unpack_from("<I", head, 0x40)[0] == VDI_SIGNATURE:
        return "vdi"
    return None


def parse_qcow2(head: bytes) -> tuple[str | None, int | None]:
    """(reason to reject or None, virtual size) for a qcow2 header."""
    if len(head) < 72:
        return "qcow2 header is truncated", None
    (_, version, backing_offset, backing_size, cluster_bits, virtual_size) = struct.unpack_from(
        ">4sIQIIQ", head, 0
    )
    if version not in (2, 3):
        return f"unsupported qcow2 version {version}", None
    if not 9 <= cluster_bits <= 21:
        return "qcow2 header has an invalid cluster size", None
    if backing_offset or backing_size:
        return "qcow2 images with a backing file are not allowed", None
    extensions_at = 72
    if version == 3:
        if len(head) < 104:
            return "qcow2 v3 header is truncated", None
        incompatible = struct.unpack_from(">Q", head, 72)[0]
        header_length = struct.unpack_from(">I", head, 100)[0]
        if incompatible & QCOW2_INCOMPAT_DATA_FILE:
            return "qcow2 images with an external data file are not allowed", None
        if incompatible & ~QCOW2_KNOWN_INCOMPAT:
            return "qcow2 image uses unknown incompatible features", None
        if header_length < 104 or header_length % 8:
            return "qcow2 v3 header has an invalid length", None
        extensions_at = header_length
    reason = _check_qcow2_extensions(head, extensions_at, min(1 << cluster_bits, len(head)))
    return reason, virtual_size


def _check_qcow2_extensions(head: bytes, offset: int, limit: int) -> str | None:
    while True:
        if offset + 8 > limit:
            return "qcow2 header extensions are unreadable"
        kind, length = struct.unpack_from(">II", head, offset)
        if kind == QCOW2_EXT_END:
            return None
        if kind == QCOW2_EXT_DATA_FILE:
            return "qcow2 images with an external data file are not allowed"
        offset += 8 + ((length + 7) & ~7)


def parse_vmdk(head: bytes) -> tuple[str | None, int | None]:
    if not head.startswith(VMDK_MAGIC):
        return "data is not a vmdk sparse image", None
    if len(head) < 44:
        return "vmdk header is truncated", None
    capacity, _grain, desc_sector, desc_sectors = struct.unpack_from("<QQQQ", head, 12)
    start, end = desc_sector * 512, (desc_sector + desc_sectors) * 512
    if not desc_sectors or end > len(head):
        return "vmdk descriptor is missing or unreadable", None
    descriptor = head[start:end].split(b"\x00", 1)[0].decode("latin-1")
    create_type = None
    for line in descriptor.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "createType":
            create_type = value.strip().strip('"')
    if create_type not in VMDK_SAFE_TYPES:
        return f"vmdk createType {create_type!r} is not allowed", None
    return None, capacity * 512


class FormatInspector:
    """Collects an upload's head and tail and judges them against the declared format."""

    def __init__(self, disk_format: str | None, container_format: str | None):
        self.disk_format = disk_format
        self.enabled = container_format in INSPECTED_CONTAINERS and disk_format is not None
        self.virtual_size: int | None = None

    def check_head(self, head: bytes) -> str | None:
        """Judge the first HEAD_SIZE bytes (fewer when the whole image is smaller)."""
        if not self.enabled:
            return None
        declared = self.disk_format
        detected = looks_like(head)
        if declared == "qcow2":
            if detected != "qcow2":
                return "data is not a qcow2 image (no QFI\\xfb magic) but disk_format is qcow2"
            reason, self.virtual_size = parse_qcow2(head)
            return reason
        if detected == "qcow2":
            return f"data is a qcow2 image but disk_format is {declared}"
        if declared in RAWISH:
            if detected is not None:
                return f"data looks like a {detected} image but disk_format is {declared}"
            return None
        if declared == "vmdk":
            reason, self.virtual_size = parse_vmdk(head)
            return reason
        if declared == "vhdx" and detected != "vhdx":
            return "data is not a vhdx image"
        if declared == "vdi" and detected != "vdi":
            return "data is not a vdi image"
        if declared == "ploop" and not head.startswith(PLOOP_MAGICS):
            return "data is not a ploop image"
        if declared == "iso" and len(head) >= ISO_OFFSET + 5:
            if head[ISO_OFFSET : ISO_OFFSET + 5] not in ISO_MARKERS:
                return "data is not an iso image (no CD001 at 32769)"
        if declared == "iso" and detected is not None:
            return f"data looks like a {detected} image but disk_format is iso"
        return None

    def check_end(self, head: bytes, tail: bytes, size: int) -> str | None:
        """Judge what only the whole image shows (a fixed VHD's footer, an iso's size)."""
        if not self.enabled:
            return None
        if self.disk_format == "vhd":
            footer_ok = tail[-512:].startswith(VHD_COOKIE) or tail[-511:].startswith(VHD_COOKIE)
            if not (head.startswith(VHD_COOKIE) or footer_ok):
                return "data is not a vhd image (no conectix cookie)"
        if self.disk_format == "iso" and size < ISO_OFFSET + 5:
            return "data is too small to be an iso image"
        if self.virtual_size is None and self.disk_format in (*RAWISH, "iso"):
            self.virtual_size = size
        return None
