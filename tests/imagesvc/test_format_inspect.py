"""Format inspection against real images made by qemu-img, xorriso and grub-mkrescue, and
against hostile VMDKs crafted byte by byte (tests/imagesvc/hostile_images.py). Every image is
judged the way an upload is (head, then the whole stream) through `inspect_file`."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from common.image_formats.format_inspect import HEAD_SIZE, TAIL_SIZE, FormatInspector, inspect_file
from imagesvc.schema import DISK_FORMATS
from tests.imagesvc import hostile_images as hostile


def make(tmp_path, name: str, *args: str, size: str = "1M") -> str:
    return hostile.qemu_img_create(tmp_path, name, *args, size=size)


def verdict(tmp_path, disk_format: str, data: bytes):
    """(reason or None, virtual size) for `data` declared `disk_format`."""
    path = tmp_path / "image.bin"
    path.write_bytes(data)
    inspector = FormatInspector(disk_format)
    for start in range(0, len(data), 1024 * 1024):
        inspector.feed(data[start:start + 1024 * 1024])
    head = data[:HEAD_SIZE]
    reason = inspector.check_head(head) or inspector.check_end(head, data[-TAIL_SIZE:],
                                                                len(data))
    assert inspect_file(str(path), disk_format) == reason  # the agent's check agrees
    return reason, inspector.virtual_size


def test_plain_qcow2_passes_with_virtual_size(tmp_path):
    data = hostile.read(make(tmp_path, "a.qcow2", "-f", "qcow2"))
    assert verdict(tmp_path, "qcow2", data) == (None, 1024 * 1024)


def test_qcow2_v2_passes(tmp_path):
    data = hostile.read(make(tmp_path, "old.qcow2", "-f", "qcow2", "-o", "compat=0.10"))
    assert verdict(tmp_path, "qcow2", data)[0] is None


@pytest.mark.parametrize("build", [hostile.qcow2_with_backing_file,
                                   hostile.qcow2_with_backing_host_file])
def test_qcow2_with_backing_file_is_rejected(tmp_path, build):
    assert "backing file" in verdict(tmp_path, "qcow2", build(tmp_path))[0]


def test_qcow2_with_external_data_file_is_rejected(tmp_path):
    data = hostile.qcow2_with_data_file(tmp_path)
    assert "external data file" in verdict(tmp_path, "qcow2", data)[0]


@pytest.mark.parametrize("declared", ["raw", "ami", "aki", "ari", "iso", "vmdk", "vhd", "vdi",
                                      "vhdx", "ploop"])
def test_qcow2_declared_as_something_else_is_rejected(tmp_path, declared):
    data = hostile.read(make(tmp_path, "a.qcow2", "-f", "qcow2"))
    assert verdict(tmp_path, declared, data)[0] is not None
    if declared in ("raw", "ami", "aki", "ari", "iso"):
        assert "qcow2" in verdict(tmp_path, declared, data)[0]


def test_raw_declared_qcow2_is_rejected(tmp_path):
    assert "not a qcow2" in verdict(tmp_path, "qcow2", os.urandom(100_000))[0]
    assert "not a qcow2" in verdict(tmp_path, "qcow2", b"")[0]


@pytest.mark.parametrize("qemu_format, declared, options", [
    ("vmdk", "vmdk", ()),
    ("vmdk", "vmdk", ("-o", "subformat=streamOptimized")),
    ("vpc", "vhd", ("-o", "subformat=fixed")),
    ("vpc", "vhd", ()),
    ("vdi", "vdi", ()),
    ("vhdx", "vhdx", ()),
])
def test_other_formats_pass_as_themselves_and_fail_as_raw(tmp_path, qemu_format, declared,
                                                          options):
    data = hostile.read(make(tmp_path, f"x.{declared}", "-f", qemu_format, *options))
    assert verdict(tmp_path, declared, data)[0] is None
    if options != ("-o", "subformat=fixed"):  # a fixed VHD is raw data plus a footer
        assert verdict(tmp_path, "raw", data)[0] is not None


def test_stream_optimized_vmdk_with_data_passes_with_its_footer(tmp_path):
    source = tmp_path / "data.raw"
    source.write_bytes(os.urandom(3 * 1024 * 1024))
    target = tmp_path / "so.vmdk"
    subprocess.run(["qemu-img", "convert", "-O", "vmdk", "-o", "subformat=streamOptimized",
                    str(source), str(target)], check=True, capture_output=True)
    assert verdict(tmp_path, "vmdk", target.read_bytes()) == (None, 3 * 1024 * 1024)


@pytest.mark.parametrize("subformat", ["monolithicFlat", "twoGbMaxExtentSparse",
                                       "twoGbMaxExtentFlat"])
def test_vmdk_descriptor_files_naming_other_files_are_rejected(tmp_path, subformat):
    data = hostile.vmdk_subformat(tmp_path, subformat)
    assert "KDMV" in verdict(tmp_path, "vmdk", data)[0]
    assert "vmdk" in verdict(tmp_path, "raw", data)[0]  # nor can it pass as raw


def test_vmdk_with_a_parent_is_rejected(tmp_path):
    # oslo.utils 10.2 passes this one: only Brume's own descriptor rules catch it.
    data = hostile.vmdk_with_parent(tmp_path)
    assert "parent" in verdict(tmp_path, "vmdk", data)[0]


@pytest.mark.parametrize("build, message", [
    (hostile.vmdk_duplicate_create_type, "createType exactly once"),
    (hostile.vmdk_zero_capacity_flat_extent, "no capacity"),
    (hostile.vmdk_flat_extent_beside_the_file, "one SPARSE extent"),
    (hostile.vmdk_two_extents, "one SPARSE extent"),
    (hostile.vmdk_create_type_hidden_in_ddb, "createType exactly once"),
    (hostile.vmdk_parent_past_the_descriptor, "NUL-terminated"),
    (hostile.vmdk_with_parent_cid, "parentCID"),
])
def test_crafted_vmdks_that_would_make_qemu_open_other_files_are_rejected(tmp_path, build,
                                                                           message):
    data = build()
    reason = verdict(tmp_path, "vmdk", data)[0]
    assert reason is not None and message in reason, reason
    assert verdict(tmp_path, "raw", data)[0] is not None


def test_vmdk_descriptor_keys_repeated_in_any_case_are_rejected(tmp_path):
    data = hostile.sparse_vmdk(hostile.descriptor(
        'parentCID=ffffffff', 'createType="monolithicSparse"', 'CID=87654321',
        hostile.SPARSE_EXTENT))
    assert "repeats the key CID" in verdict(tmp_path, "vmdk", data)[0]


def test_honest_crafted_sparse_vmdk_passes(tmp_path):
    assert verdict(tmp_path, "vmdk", hostile.honest_sparse_vmdk()) == (None, 2048 * 512)


def test_iso_needs_cd001(tmp_path):
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "hello.txt").write_text("hi")
    iso = tmp_path / "x.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-o", str(iso), str(tmp_path / "tree")],
                   check=True, capture_output=True)
    assert verdict(tmp_path, "iso", iso.read_bytes())[0] is None
    assert "iso" in verdict(tmp_path, "raw", iso.read_bytes())[0]
    assert "CD001" in verdict(tmp_path, "iso", os.urandom(40_000))[0]
    assert "too small" in verdict(tmp_path, "iso", b"tiny")[0]


def test_hybrid_bootable_iso_passes_as_iso(tmp_path):
    (tmp_path / "root").mkdir()
    iso = tmp_path / "boot.iso"
    subprocess.run(["grub-mkrescue", "-o", str(iso), str(tmp_path / "root")], check=True,
                   capture_output=True, timeout=300)
    assert verdict(tmp_path, "iso", iso.read_bytes())[0] is None  # ISO 9660 + an MBR


def test_formats_qemu_would_interpret_are_rejected_as_raw_qed(tmp_path):
    data = hostile.read(make(tmp_path, "x.qed", "-f", "qed"))
    assert "qed" in verdict(tmp_path, "raw", data)[0]


def test_formats_qemu_would_interpret_are_rejected_as_raw_luks(tmp_path):
    path = hostile.luks1_image(tmp_path, "x.luks")
    probed = subprocess.run(["qemu-img", "info", "--output=json", path], check=True,
                            capture_output=True, text=True)
    assert json.loads(probed.stdout)["format"] == "luks"  # qemu reads the header as LUKS
    assert "luks" in verdict(tmp_path, "raw", hostile.read(path))[0]


@pytest.mark.parametrize("gpt", [False, True])
def test_raw_disk_with_a_partition_table_passes_as_raw(tmp_path, gpt):
    data = hostile.mbr_disk(gpt)
    assert verdict(tmp_path, "raw", data) == (None, len(data))


def test_random_data_is_fine_as_raw(tmp_path):
    data = os.urandom(100_000)
    assert verdict(tmp_path, "raw", data) == (None, 100_000)


def test_container_format_plays_no_part():
    inspector = FormatInspector("raw")
    assert inspector.enabled  # judged whatever the container (see test_data_api)


@settings(max_examples=200, deadline=None)
@given(disk_format=st.sampled_from(DISK_FORMATS), data=st.binary(max_size=4096),
       prefix=st.sampled_from([b"", b"QFI\xfb", b"KDMV", b"conectix", b"vhdxfile",
                               b"QED\x00", b"LUKS\xba\xbe"]))
def test_any_bytes_get_a_verdict_never_an_exception(disk_format, data, prefix):
    data = prefix + data
    inspector = FormatInspector(disk_format)
    inspector.feed(data)
    reason = inspector.check_head(data) or inspector.check_end(data, data[-TAIL_SIZE:],
                                                                len(data))
    assert reason is None or (isinstance(reason, str) and "\n" not in reason)


def test_fixed_vhd_of_a_partitioned_disk_passes_with_its_footer_size(tmp_path):
    raw = tmp_path / "disk.raw"
    raw.write_bytes(hostile.mbr_disk())
    vhd = tmp_path / "disk.vhd"
    subprocess.run(["qemu-img", "convert", "-O", "vpc", "-o", "subformat=fixed", str(raw),
                    str(vhd)], check=True, capture_output=True)
    reason, size = verdict(tmp_path, "vhd", vhd.read_bytes())
    assert reason is None and size >= 1024 * 1024


EXTRA_DESCRIPTOR_LINES = [
    'createType="streamOptimized"', 'createtype="monolithicSparse"',
    'createType="monolithicFlat"', 'CREATETYPE="vmfs"', 'parentCID=1234abcd',
    'parentFileNameHint="other-image"', 'parentfilenamehint="other-image"', 'CID=12345678',
    'RW 2048 FLAT "other-image" 0', 'RDONLY 2048 SPARSE "other-image"',
    'RW 2048 VMFS "other-image"', 'ddb.adapterType = "ide"', 'encoding="UTF-8"',
    'ddb.comment = "createType=\\"monolithicFlat\\""', '# createType="monolithicFlat"', '',
]


@settings(max_examples=60, deadline=None)
@given(extra=st.lists(st.sampled_from(EXTRA_DESCRIPTOR_LINES), max_size=3),
       order=st.randoms(use_true_random=False), capacity=st.sampled_from([0, 2048, 2048]))
def test_any_vmdk_brume_accepts_makes_qemu_open_only_itself(tmp_path_factory, extra, order,
                                                           capacity):
    """A honest descriptor with hostile lines mixed in: whatever Brume lets through, QEMU
    opens as the file itself and nothing else."""
    lines = ['parentCID=ffffffff', 'createType="monolithicSparse"', hostile.SPARSE_EXTENT, *extra]
    order.shuffle(lines)
    data = hostile.sparse_vmdk(hostile.descriptor(*lines), capacity_sectors=capacity)
    where = tmp_path_factory.mktemp("vmdk")
    (where / "other-image").write_bytes(bytes(1024 * 1024))
    path = where / "disk.vmdk"
    path.write_bytes(data)
    if inspect_file(str(path), "vmdk") is not None:
        return
    info = subprocess.run(["qemu-img", "info", "--output=json", "-f", "vmdk", str(path)],
                          capture_output=True, text=True)
    assert info.returncode == 0, (lines, info.stderr)
    answer = json.loads(info.stdout)
    assert not answer.get("backing-filename"), (lines, answer)
    extents = answer.get("format-specific", {}).get("data", {}).get("extents", [])
    assert [os.path.basename(e["filename"]) for e in extents] == ["disk.vmdk"], (lines, answer)
