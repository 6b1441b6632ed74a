"""Fixtures of the real-VM tests: one QEMU all-in-one cluster per module, the demo images."""
from __future__ import annotations

import json
import os
import shutil

import pytest

from tests.integration.support import brume
from tests.vm.qemu_support import VmCloud, start_qemu_cluster

POWEROFF_AFTER = 15


@pytest.fixture(scope="module")
def vm_cloud(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("brume-qemu"))
    handle = start_qemu_cluster(data_dir)
    cloud = None
    try:
        cloud = VmCloud(handle)
        cloud.disable_host("hv2")  # every server on hv1: one node, one image cache
        yield cloud
    finally:
        brume("down", "--data-dir", data_dir, "--timeout", "10", check=False)
        if cloud is not None:
            cloud.remove_leftover_domains()
        if os.environ.get("BRUME_KEEP_TEST_CLUSTER") != "1":
            shutil.rmtree(data_dir, ignore_errors=True)


def _build_demo(cloud: VmCloud, output_dir: str, *extra: str) -> dict:
    result = cloud.cli("image", "build-demo", "--output-dir", output_dir, "--format", "json",
                       *extra)
    image = json.loads(result.stdout)
    assert image["status"] == "active" and image["disk_format"] == "qcow2", image
    return image


@pytest.fixture(scope="module")
def demo_files(tmp_path_factory):
    return str(tmp_path_factory.mktemp("demo-image"))


@pytest.fixture(scope="module")
def demo_image(vm_cloud, demo_files) -> dict:
    """The demo image, built from Debian packages and uploaded with `brume image build-demo`."""
    return _build_demo(vm_cloud, demo_files)


@pytest.fixture(scope="module")
def poweroff_image(vm_cloud, tmp_path_factory) -> dict:
    """The demo image variant whose guest powers itself off POWEROFF_AFTER s after booting."""
    output = str(tmp_path_factory.mktemp("demo-poweroff"))
    return _build_demo(vm_cloud, output, "--poweroff-after", str(POWEROFF_AFTER),
                       "--name", "demo-poweroff")
