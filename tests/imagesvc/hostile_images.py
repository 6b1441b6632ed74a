"""Hostile and honest disk images for the format-safety tests, made for real: qemu-img builds
most of them (backing files, external data files, every VMDK subformat), a few bytes of
Python build the VMDKs qemu-img would never write (a duplicated createType, a zero-capacity
header whose descriptor names a flat extent outside the file, a parent hidden past the end
of the descriptor) and a LUKS1 header (qemu-img's LUKS writer fails on this machine's CPU
clock)."""
from __future__ import annotations

import os
import struct
import subprocess

SECTOR = 512


def qemu_img_create(directory, name: str, *args: str, size: str = "1M") -> str:
    """`qemu-img create ARGS <directory>/<name> SIZE` (run in `directory`); the path."""
    path = os.path.join(str(directory), name)
    subprocess.run(["qemu-img", "create", "-q", *args, path, size], check=True,
                   capture_output=True, text=True, cwd=str(directory))
    return path


LUKS_STRIPES = 4000  # the anti-forensic split every LUKS1 key slot uses
LUKS_KEY_BYTES = 64  # aes-256 in xts mode: two 256-bit keys
LUKS_SLOT_ACTIVE, LUKS_SLOT_INACTIVE = 0x00AC71F3, 0x0000DEAD


def luks1_image(directory, name: str, payload: int = 1024 * 1024) -> str:
    """A LUKS1 volume header (one active key slot, the layout qemu-img writes) followed by
    `payload` bytes; the path.

    Built here rather than by `qemu-img create -f luks`, which times its key derivation with
    the thread's CPU clock and refuses ("Unable to get accurate CPU usage") for runs of tens
    of attempts on this machine. The key material is random, not a real key: only the header
    decides how qemu reads the file, and the tests check qemu reads it as LUKS."""
    slot_sectors = -(-LUKS_KEY_BYTES * LUKS_STRIPES // 4096) * 4096 // SECTOR
    first_slot = 4096 // SECTOR
    payload_sector = first_slot + 8 * slot_sectors
    header = struct.pack(">6sH32s32s32sII20s32sI40s", b"LUKS\xba\xbe", 1, b"aes",
                         b"xts-plain64", b"sha256", payload_sector, LUKS_KEY_BYTES,
                         os.urandom(20), os.urandom(32), 1000,
                         b"2f0c1f0e-6b1d-4c55-9a0e-8f1e5c2a7d40")
    for slot in range(8):
        header += struct.pack(">II32sII", LUKS_SLOT_ACTIVE if slot == 0 else LUKS_SLOT_INACTIVE,
                              1000 if slot == 0 else 0,
                              os.urandom(32) if slot == 0 else bytes(32),
                              first_slot + slot * slot_sectors, LUKS_STRIPES)
    path = os.path.join(str(directory), name)
    with open(path, "wb") as handle:
        handle.write(header)
        handle.seek(first_slot * SECTOR)
        handle.write(os.urandom(LUKS_KEY_BYTES * LUKS_STRIPES))
        handle.truncate(payload_sector * SECTOR + payload)
    return path


def read(path: str) -> bytes:
    with open(path, "rb") as handle:
        return handle.read()


def qcow2_with_backing_file(directory) -> bytes:
    qemu_img_create(directory, "base.qcow2", "-f", "qcow2")
    return read(qemu_img_create(directory, "child.qcow2", "-f", "qcow2", "-b", "base.qcow2",
                                "-F", "qcow2"))


def qcow2_with_backing_host_file(directory) -> bytes:
    """A qcow2 whose backing file is a host path (raw, so QEMU would read it as the disk)."""
    return read(qemu_img_create(directory, "passwd.qcow2", "-f", "qcow2", "-b", "/etc/passwd",
                                "-F", "raw"))


def qcow2_with_data_file(directory) -> bytes:
    return read(qemu_img_create(directory, "data.qcow2", "-f", "qcow2", "-o",
                                "data_file=external.raw"))


def vmdk_with_parent(directory) -> bytes:
    """A monolithicSparse VMDK whose descriptor names a parent (QEMU's backing file)."""
    qemu_img_create(directory, "parent.vmdk", "-f", "vmdk")
    return read(qemu_img_create(directory, "child.vmdk", "-f", "vmdk", "-b", "parent.vmdk",
                                "-F", "vmdk"))


def vmdk_subformat(directory, subformat: str) -> bytes:
    """The file `qemu-img create -f vmdk -o subformat=...` makes (a descriptor text file for
    the flat and split subformats, whose extents are other files)."""
    return read(qemu_img_create(directory, f"{subformat}.vmdk", "-f", "vmdk", "-o",
                                f"subformat={subformat}"))


def sparse_vmdk(descriptor: bytes, capacity_sectors: int = 2048, desc_sectors: int = 20,
                size: int = 64 * 1024, after_descriptor: bytes = b"") -> bytes:
    """A hosted sparse extent (KDMV) header with `descriptor` embedded at sector 1."""
    header = struct.pack("<4sIIQQQQIQQQ?4s", b"KDMV", 1, 3, capacity_sectors, 128, 1,
                         desc_sectors, 512, 0, 21, 0, False, b"\n \r\n")
    area = descriptor.ljust(desc_sectors * SECTOR, b"\x00")[:desc_sectors * SECTOR]
    return (header.ljust(SECTOR, b"\x00") + area + after_descriptor).ljust(size, b"\x00")


def descriptor(*body: str) -> bytes:
    return ("# Disk DescriptorFile\nversion=1\nCID=12345678\n" + "\n".join(body) + "\n").encode()


SPARSE_EXTENT = 'RW 2048 SPARSE "disk.vmdk"'


def vmdk_duplicate_create_type() -> bytes:
    """QEMU's key search is case-sensitive: it reads the second line, a checker folding case
    reads the first."""
    return sparse_vmdk(descriptor('parentCID=ffffffff', 'createtype="monolithicSparse"',
                                  'createType="monolithicFlat"', SPARSE_EXTENT))


def vmdk_zero_capacity_flat_extent(target: str = "other-image") -> bytes:
    """Capacity 0: QEMU reads the embedded descriptor as a descriptor file and opens its
    flat extent: a file beside the image (in an agent's cache: another image)."""
    return sparse_vmdk(descriptor('parentCID=ffffffff', 'createtype="monolithicSparse"',
                                  'createType="monolithicFlat"', f'RW 2048 FLAT "{target}" 0'),
                       capacity_sectors=0)


def vmdk_flat_extent_beside_the_file() -> bytes:
    return sparse_vmdk(descriptor('parentCID=ffffffff', 'createType="monolithicSparse"',
                                  'RW 2048 FLAT "other-image" 0'))


def vmdk_two_extents() -> bytes:
    return sparse_vmdk(descriptor('parentCID=ffffffff', 'createType="monolithicSparse"',
                                  SPARSE_EXTENT, 'RW 2048 SPARSE "second.vmdk"'))


def vmdk_create_type_hidden_in_ddb() -> bytes:
    return sparse_vmdk(descriptor('parentCID=ffffffff',
                                  'ddb.comment = "createType=monolithicFlat"',
                                  'createType="monolithicSparse"', SPARSE_EXTENT))


def vmdk_parent_past_the_descriptor() -> bytes:
    """A one-sector descriptor with no NUL in it: QEMU reads on, into a parentFileNameHint."""
    text = descriptor('parentCID=ffffffff', 'createType="monolithicSparse"', SPARSE_EXTENT)
    text = text.ljust(SECTOR - 1, b"#") + b"\n"
    return sparse_vmdk(text, desc_sectors=1,
                       after_descriptor=b'parentFileNameHint="/etc/passwd"\n')


def vmdk_with_parent_cid() -> bytes:
    return sparse_vmdk(descriptor('parentCID=1234abcd', 'createType="monolithicSparse"',
                                  SPARSE_EXTENT))


def honest_sparse_vmdk() -> bytes:
    return sparse_vmdk(descriptor('parentCID=ffffffff', 'createType="monolithicSparse"',
                                  SPARSE_EXTENT, '# The Disk Data Base', '#DDB',
                                  'ddb.virtualHWVersion = "4"', 'ddb.adapterType = "ide"'))


def mbr_disk(gpt: bool = False) -> bytes:
    """A raw disk with a partition table: one MBR partition, or a GPT's protective MBR."""
    entry = struct.pack("<B3BB3BII", 0x00, 0x00, 0x02, 0x00, 0xEE if gpt else 0x83,
                        0xFF, 0xFF, 0xFF, 1, 2047)
    boot = bytearray(os.urandom(446)) + entry + bytes(48) + b"\x55\xaa"
    boot[0x10] = 0  # not a FAT boot sector
    return bytes(boot) + os.urandom(1024 * 1024 - 512)
