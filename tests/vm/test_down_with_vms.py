"""`brume down` on a cluster with a real VM running under qemu:///system (one boot).

Stopping the cluster leaves libvirtd's domains running: `brume down` says how many of this
cluster's are left, and `--with-vms` destroys and undefines them and nothing else: a Brume
domain of another cluster on the same libvirtd (its instance dir is not one of ours) stays.
"""
from __future__ import annotations

import os
import uuid

import libvirt
import pytest

from tests.integration.support import brume
from tests.vm.qemu_support import QEMU_URI

pytestmark = pytest.mark.qemu

BOOT_TIMEOUT = 90.0


def define_foreign_domain(conn, instances_dir: str) -> libvirt.virDomain:
    """A shut-off Brume domain that belongs to another cluster (its instance dir is there)."""
    server_id = str(uuid.uuid4())
    os.makedirs(os.path.join(instances_dir, server_id))
    return conn.defineXML(
        f"<domain type='qemu'><name>brume-{server_id}</name><uuid>{server_id}</uuid>"
        "<memory unit='MiB'>32</memory><os><type arch='x86_64'>hvm</type></os></domain>")


def test_down_reports_the_running_vm_and_with_vms_removes_only_this_clusters(
        vm_cloud, demo_image, tmp_path):
    data_dir = vm_cloud.handle.data_dir
    server_id = vm_cloud.boot("demo-left-running", demo_image["id"])
    vm_cloud.wait_status(server_id, "ACTIVE", timeout=BOOT_TIMEOUT)
    foreign = define_foreign_domain(vm_cloud.libvirt, str(tmp_path / "other" / "instances"))
    try:
        down = brume("down", "--data-dir", data_dir)
        assert "stopped" in down.stdout
        assert (f"1 VM still running on {QEMU_URI}; `brume down --data-dir {data_dir} "
                "--with-vms` destroys and undefines them") in down.stdout
        assert vm_cloud.libvirt.lookupByUUIDString(server_id).isActive()

        removed = brume("down", "--data-dir", data_dir, "--with-vms")
        assert "no cluster processes running" in removed.stdout
        assert f"destroyed and undefined 1 VM on {QEMU_URI}" in removed.stdout
        assert not vm_cloud.domain_exists(server_id)
        assert os.path.isdir(vm_cloud.instance_dir(server_id))  # its disk stays
        assert vm_cloud.domain_exists(foreign.UUIDString())

        again = brume("down", "--data-dir", data_dir)
        assert f"no VMs of this cluster on {QEMU_URI}" in again.stdout
    finally:
        foreign.undefine()
