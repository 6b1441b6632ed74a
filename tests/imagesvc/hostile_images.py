"""Hostile and honest disk images for the format-safety tests, made for real: qemu-img builds
most of them (backing files, external data files, every VMDK subformat), a few bytes of
Python build the VMDKs qemu-img would never write (a duplicated createType, a zero-capacity
header whose descriptor names a flat extent outside the file, a parent hidden past the end
of the descriptor)."""
from __future__ import annotations

import os
import struct
import subprocess

SECTOR = 512


# QEMU times its LUKS key derivation with getrusage(); on a loaded machine the sample can
# read zero CPU time and qemu-img gives up with this message, though nothing is wrong.
TRANSIENT_QEMU_IMG = "Unable to get accurate CPU usage"


def qemu_img_create(directory, name: str, *args: str, size: str = "1M") -> str:
    """`qemu-img create ARGS <directory>/<name> SIZE` (run in `directory`); the path.

    Tried again (up to 5 times) only for QEMU's transient LUKS timing failure."""
    path = os.path.join(str(directory), name)
    for attempt in range(5):
        result = subprocess.run(["qemu-img", "create", "-q", *args, path, size],
                                capture_output=True, text=True, cwd=str(directory))
        if result.returncode == 0:
            return path
        if TRANSIENT_QEMU_IMG not in result.stderr or attempt == 4:
            raise subprocess.CalledProcessError(result.returncode, result.args,
                                                result.stdout, result.stderr)
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
