"""Format inspection against real images made by qemu-img and xorriso."""
from __future__ import annotations

import os
import subprocess

import pytest

from imagesvc.format_inspect import HEAD_SIZE, FormatInspector


def make(tmp_path, name: str, *args: str) -> bytes:
    path = tmp_path / name
    subprocess.run(["qemu-img", "create", *args, str(path), "1M"], check=True,
                   capture_output=True, cwd=tmp_path)
    return path.read_bytes()


def verdict(disk_format: str, data: bytes, container_format: str = "bare"):
    inspector = FormatInspector(disk_format, container_format)
    head = data[:HEAD_SIZE]
    return inspector.check_head(head) or inspector.check_end(head, data[-512:], len(data)), (
        inspector.virtual_size
    )


def test_plain_qcow2_passes_with_virtual_size(tmp_path):
    assert verdict("qcow2", make(tmp_path, "a.qcow2", "-f", "qcow2")) == (None, 1024 * 1024)


def test_qcow2_v2_passes(tmp_path):
    data = make(tmp_path, "old.qcow2", "-f", "qcow2", "-o", "compat=0.10")
    assert verdict("qcow2", data)[0] is None


def test_qcow2_with_backing_file_is_rejected(tmp_path):
    make(tmp_path, "base.qcow2", "-f", "qcow2")
    data = make(tmp_path, "child.qcow2", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2")
    assert "backing file" in verdict("qcow2", data)[0]


def test_qcow2_with_external_data_file_is_rejected(tmp_path):
    data = make(tmp_path, "d.qcow2", "-f", "qcow2", "-o", "data_file=ext.raw")
    assert "external data file" in verdict("qcow2", data)[0]


@pytest.mark.parametrize("declared", ["raw", "ami", "iso", "vmdk", "vhd", "vdi"])
def test_qcow2_declared_as_something_else_is_rejected(tmp_path, declared):
    data = make(tmp_path, "a.qcow2", "-f", "qcow2")
    assert "qcow2" in verdict(declared, data)[0]


def test_raw_declared_qcow2_is_rejected():
    assert "not a qcow2" in verdict("qcow2", os.urandom(100_000))[0]
    assert "not a qcow2" in verdict("qcow2", b"")[0]


@pytest.mark.parametrize("qemu_format, declared", [("vmdk", "vmdk"), ("vpc", "vhd"),
                                                   ("vdi", "vdi"), ("vhdx", "vhdx")])
def test_other_formats_pass_as_themselves_and_fail_as_raw(tmp_path, qemu_format, declared):
    options = ["-o", "subformat=fixed"] if qemu_format == "vpc" else []
    data = make(tmp_path, f"x.{declared}", "-f", qemu_format, *options)
    assert verdict(declared, data)[0] is None
    if declared != "vhd":  # a fixed VHD is raw data plus a footer
        assert verdict("raw", data)[0] is not None


def test_iso_needs_cd001(tmp_path):
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "hello.txt").write_text("hi")
    iso = tmp_path / "x.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-o", str(iso), str(tmp_path / "tree")],
                   check=True, capture_output=True)
    assert verdict("iso", iso.read_bytes())[0] is None
    assert "CD001" in verdict("iso", os.urandom(40_000))[0]
    assert "too small" in verdict("iso", b"tiny")[0]


def test_other_containers_are_not_inspected(tmp_path):
    data = make(tmp_path, "a.qcow2", "-f", "qcow2")
    assert verdict("raw", data, container_format="ova")[0] is None


def test_random_data_is_fine_as_raw():
    assert verdict("raw", os.urandom(100_000)) == (None, 100_000)
