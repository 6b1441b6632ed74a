"""Instance disks with the real qemu-img: overlays on cached bases, grown to the flavor, and
the agent's own check of a cached base (its Python inspection and, on its own, the
`qemu-img info` layer the inspection would normally shield)."""
import os
import subprocess

import pytest

from compute.instance_disks import (
    DiskError,
    GiB,
    UnsafeBase,
    backing_file,
    check_base,
    prepare_disks,
    qemu_img_check,
    virtual_size,
)
from tests.imagesvc import hostile_images as hostile


def make_base(tmp_path, fmt):
    base = tmp_path / f"base.{fmt}"
    subprocess.run(["qemu-img", "create", "-q", "-f", fmt, str(base), "64M"], check=True)
    return str(base)


@pytest.mark.parametrize("fmt", ["qcow2", "raw"])
def test_overlay_grown_to_flavor(tmp_path, fmt):
    base = make_base(tmp_path, fmt)
    inst = tmp_path / "inst"
    inst.mkdir()
    disks = prepare_disks(fmt, base, 1, str(inst))
    assert disks.root_format == "qcow2"
    assert backing_file(disks.root_path) == base
    assert virtual_size(disks.root_path, "qcow2") == GiB


def test_overlay_keeps_bigger_image_size(tmp_path):
    base = make_base(tmp_path, "qcow2")
    inst = tmp_path / "inst"
    inst.mkdir()
    disks = prepare_disks("qcow2", base, 0, str(inst))
    assert virtual_size(disks.root_path, "qcow2") == 64 * 1024 * 1024


def test_iso_is_a_cdrom_with_blank_root(tmp_path):
    iso = tmp_path / "x.iso"
    iso.write_bytes(b"\0" * 65536)
    inst = tmp_path / "inst"
    inst.mkdir()
    disks = prepare_disks("iso", str(iso), 1, str(inst))
    assert disks.root_path == str(iso) and disks.root_format == "iso"
    assert virtual_size(disks.extra_root_path, "qcow2") == GiB


@pytest.mark.parametrize("fmt", ["aki", "ari", "ploop"])
def test_unbootable_formats(tmp_path, fmt):
    with pytest.raises(DiskError):
        prepare_disks(fmt, str(tmp_path / "x"), 1, str(tmp_path))


def _write(tmp_path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


@pytest.mark.parametrize("fmt, qemu_format, options", [
    ("qcow2", "qcow2", ()), ("raw", "raw", ()), ("vmdk", "vmdk", ()),
    ("vmdk", "vmdk", ("-o", "subformat=streamOptimized")), ("vdi", "vdi", ()),
    ("vhd", "vpc", ()), ("vhdx", "vhdx", ()),
])
def test_honest_bases_pass_the_check(tmp_path, fmt, qemu_format, options):
    check_base(hostile.qemu_img_create(tmp_path, f"ok.{fmt}", "-f", qemu_format, *options), fmt)


def test_kernel_ramdisk_and_iso_bases_are_checked_as_raw_bytes(tmp_path):
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "hello.txt").write_text("hi")  # xorriso writes no empty ISO
    iso = tmp_path / "x.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-o", str(iso), str(tmp_path / "tree")],
                   check=True, capture_output=True)
    check_base(str(iso), "iso")
    check_base(_write(tmp_path, "kernel", os.urandom(40_000)), "aki")
    check_base(_write(tmp_path, "ramdisk", os.urandom(40_000)), "ari")
    qcow2 = hostile.qemu_img_create(tmp_path, "k.qcow2", "-f", "qcow2")
    for fmt in ("aki", "ari", "iso"):
        with pytest.raises(UnsafeBase, match="qcow2"):
            check_base(qcow2, fmt)


@pytest.mark.parametrize("build, fmt, message", [
    (hostile.qcow2_with_backing_file, "qcow2", "backing file"),
    (hostile.qcow2_with_data_file, "qcow2", "external data file"),
    (lambda where: hostile.read(hostile.qemu_img_create(where, "p.qcow2", "-f", "qcow2")),
     "raw", "qcow2 format"),
    (lambda where: os.urandom(100_000), "qcow2", "not a qcow2"),
    (hostile.vmdk_with_parent, "vmdk", "parent"),
    (lambda where: hostile.vmdk_duplicate_create_type(), "vmdk", "createType"),
    (lambda where: hostile.vmdk_zero_capacity_flat_extent(), "vmdk", "capacity"),
])
def test_unsafe_or_mislabelled_bases_fail_the_check(tmp_path, build, fmt, message):
    path = _write(tmp_path, "cached-base", build(tmp_path))
    with pytest.raises(UnsafeBase, match=message):
        check_base(path, fmt)


@pytest.mark.parametrize("build, qemu_format, message", [
    (hostile.qcow2_with_backing_file, "qcow2", "backing file"),
    (hostile.qcow2_with_backing_host_file, "qcow2", "backing file"),
    (hostile.qcow2_with_data_file, "qcow2", "data file"),
    (hostile.vmdk_with_parent, "vmdk", "backing file"),
    (lambda where: hostile.vmdk_zero_capacity_flat_extent("other-image"), "vmdk",
     "extent in another file"),
    (lambda where: hostile.vmdk_parent_past_the_descriptor(), "vmdk", "backing file"),
    (lambda where: os.urandom(100_000), "qcow2", "not readable as qcow2"),
])
def test_the_qemu_img_layer_alone_refuses_what_qemu_would_open(tmp_path, build, qemu_format,
                                                               message):
    """Defence in depth: even if the Python inspection let one of these through, the agent's
    `qemu-img info` check would still refuse it."""
    data = build(tmp_path)
    (tmp_path / "other-image").write_bytes(b"another tenant's image".ljust(1024 * 1024, b"x"))
    path = _write(tmp_path, "cached-base", data)
    with pytest.raises(UnsafeBase, match=message):
        qemu_img_check(path, qemu_format)
