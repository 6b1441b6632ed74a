"""Brume's own strict reading of qcow2 and VMDK headers: anything that could make QEMU open
a file other than the image itself is refused.

These rules run on an image's first bytes next to oslo.utils' format inspector (see
`common.image_formats.format_inspect`) and are stricter than it where QEMU is lenient:

- qcow2: a backing file (offset or name), an external data file (incompatible bit or header
  extension), unknown incompatible features, versions other than 2 and 3.
- VMDK: only a hosted sparse extent (`KDMV`) with a non-zero capacity (with capacity 0 QEMU
  reads the embedded descriptor as a descriptor *file* and opens the extents it names), a
  NUL-terminated descriptor at sector 1 made only of comments, `key=value` lines each key at
  most once (compared without case: QEMU finds keys with a case-sensitive substring search,
  so `createtype=` before `createType=` once hid a flat extent from other checkers), `ddb.`
  lines and exactly one `SPARSE` extent; `createType` `monolithicSparse` or
  `streamOptimized`; no parent (`parentFileNameHint`, which QEMU turns into a backing file,
  or a `parentCID` other than ffffffff).

Each check answers a one-line reason to refuse, or None, plus the virtual size it read.
"""
from __future__ import annotations

import re
import struct

QCOW2_MAGIC = b"QFI\xfb"
QCOW2_EXT_END = 0x00000000
QCOW2_EXT_DATA_FILE = 0x44415441
QCOW2_INCOMPAT_DATA_FILE = 1 << 2
QCOW2_KNOWN_INCOMPAT = 0x1F

VMDK_MAGIC = b"KDMV"
VMDK_HEADER = struct.Struct("<4sIIQQQQ")  # magic, version, flags, capacity, grain, desc at/len
VMDK_SAFE_TYPES = ("monolithicsparse", "streamoptimized")
VMDK_DESCRIPTOR_SECTOR = 1
VMDK_QEMU_DESCRIPTOR_WINDOW = 20 * 512  # what QEMU reads from the descriptor, whatever its size
VMDK_NO_PARENT = "ffffffff"
_VMDK_KEY_LINE = re.compile(r'^([A-Za-z][A-Za-z0-9_]*)\s*=\s*(.*)$')
_VMDK_DDB_LINE = re.compile(r'^ddb\.[A-Za-z0-9_.]+\s*=\s*"[^"]*"$', re.IGNORECASE)
_VMDK_EXTENT_LINE = re.compile(r'^(RW|RDONLY|NOACCESS)\s+(\d+)\s+(\S+)\s+"([^"/]*)"(\s+\d+)?$',
                               re.IGNORECASE)


def check_qcow2(head: bytes) -> tuple[str | None, int | None]:
    """(reason to refuse or None, virtual size) for bytes declared qcow2."""
    if not head.startswith(QCOW2_MAGIC):
        return "data is not a qcow2 image (no QFI\\xfb magic) but disk_format is qcow2", None
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


def check_vmdk(head: bytes) -> tuple[str | None, int | None]:
    """(reason to refuse or None, virtual size) for bytes declared vmdk."""
    if not head.startswith(VMDK_MAGIC):
        return "data is not a vmdk sparse image (no KDMV magic)", None
    if len(head) < 512:
        return "vmdk header is truncated", None
    _, version, _flags, capacity, _grain, desc_sector, desc_sectors = VMDK_HEADER.unpack_from(
        head, 0)
    if version not in (1, 2, 3):
        return f"unsupported vmdk version {version}", None
    if capacity == 0:
        return "vmdk header has no capacity (its descriptor would name other files)", None
    if desc_sector != VMDK_DESCRIPTOR_SECTOR or not desc_sectors:
        return "vmdk descriptor is missing or not at sector 1", None
    start, end = desc_sector * 512, (desc_sector + desc_sectors) * 512
    if end > len(head):
        return "vmdk descriptor is unreadable", None
    raw = head[start:end]
    if b"\x00" not in raw:
        return "vmdk descriptor is not NUL-terminated", None
    window = head[start:start + VMDK_QEMU_DESCRIPTOR_WINDOW].split(b"\x00", 1)[0]
    if b"parentfilenamehint" in window.lower():
        return "vmdk images with a parent (backing file) are not allowed", None
    reason = _check_vmdk_descriptor(raw.split(b"\x00", 1)[0])
    return reason, (None if reason else capacity * 512)


def _check_vmdk_descriptor(raw: bytes) -> str | None:
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        return "vmdk descriptor is not ASCII text"
    if text.lower().count("createtype") != 1:
        return "vmdk descriptor must name createType exactly once"
    keys: dict[str, str] = {}
    extents: list[re.Match] = []
    for line in (line.strip() for line in text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if _VMDK_DDB_LINE.match(line):
            continue
        extent = _VMDK_EXTENT_LINE.match(line)
        if extent:
            extents.append(extent)
            continue
        pair = _VMDK_KEY_LINE.match(line)
        if not pair:
            return "vmdk descriptor has a line that is neither a key, an extent nor a comment"
        key = pair.group(1).lower()
        if key in keys:
            return f"vmdk descriptor repeats the key {pair.group(1)}"
        keys[key] = pair.group(2).strip().strip('"')
    create_type = keys.get("createtype", "")
    if create_type.lower() not in VMDK_SAFE_TYPES:
        return f"vmdk createType {create_type!r} is not allowed (only monolithicSparse, " \
            "streamOptimized)"
    if keys.get("parentcid", VMDK_NO_PARENT).lower() != VMDK_NO_PARENT:
        return "vmdk images with a parent (parentCID) are not allowed"
    if len(extents) != 1 or extents[0].group(3).upper() != "SPARSE":
        return "vmdk image must have exactly one SPARSE extent (the file itself)"
    return None
