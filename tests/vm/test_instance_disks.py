"""Instance disks with the real qemu-img: overlays on cached bases, grown to the flavor."""
import subprocess

import pytest

from compute.instance_disks import DiskError, GiB, backing_file, prepare_disks, virtual_size


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
