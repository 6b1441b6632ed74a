"""Host preparation for real VMs (/dev/kvm access) and `brume image build-demo` argument errors."""
from __future__ import annotations

import grp
import os
import stat

from compute.libvirt_daemons import grant_kvm_to_qemu
from tests.integration.support import brume


def test_root_only_kvm_device_is_given_to_the_kvm_group(tmp_path):
    assert os.geteuid() == 0, "the VM tests run as root (libvirt qemu:///system)"
    device = tmp_path / "kvm"
    device.write_bytes(b"")
    os.chown(device, 0, 0)
    os.chmod(device, 0o600)
    assert grant_kvm_to_qemu(str(device)) is True
    info = os.stat(device)
    assert info.st_gid == grp.getgrnam("kvm").gr_gid
    assert stat.S_IMODE(info.st_mode) == 0o660
    assert grant_kvm_to_qemu(str(device)) is False  # already right: nothing changes


def test_missing_device_changes_nothing(tmp_path):
    assert grant_kvm_to_qemu(str(tmp_path / "absent")) is False


def test_build_demo_argument_errors_are_one_line():
    result = brume("image", "build-demo", "--no-upload", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "brume: --no-upload needs --output-dir (where to leave the image)")
    result = brume("image", "build-demo", "--poweroff-after", "0", "--output-dir", "/tmp",
                   check=False)
    assert result.returncode == 1 and "at least 1 second" in result.stderr
