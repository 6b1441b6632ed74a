"""Fixtures of the datapath tests: a node namespace with a Datapath aimed at it, and VMs."""
from __future__ import annotations

import os
import shutil
import tempfile

import pytest

from network.datapath.node import Datapath
from network.datapath.runner import Runner
from tests.network.datapath.netns_support import Netns, Vm, missing_binaries


class Node:
    """The node namespace, its datapath and the VMs plugged into it."""

    def __init__(self, workdir: str):
        self.workdir = workdir
        self.netns = Netns()
        self.state_dir = os.path.join(workdir, "state")
        self.datapath = Datapath(self.state_dir, Runner(self.netns.name))
        self.vms: list[Vm] = []

    def vm(self, tap: str, mac: str, bridge: str) -> Vm:
        vm = Vm(self.netns, tap, mac, bridge, self.workdir)
        self.vms.append(vm)
        return vm

    def close(self) -> None:
        try:
            self.datapath.remove_all()
        finally:
            for vm in self.vms:
                vm.delete()
            self.netns.delete()


@pytest.fixture
def node():
    missing = missing_binaries()
    # CI runs as root after install.sh: a missing binary or root is a broken setup, not a skip.
    assert not missing, f"datapath binaries missing (./install.sh installs them): {missing}"
    assert os.geteuid() == 0, "network namespaces, bridges and nftables need root"
    workdir = tempfile.mkdtemp(prefix="brume-datapath-")
    os.chmod(workdir, 0o755)  # dnsmasq re-reads its host file as nobody
    handle = Node(workdir)
    try:
        yield handle
    finally:
        handle.close()
        shutil.rmtree(workdir, ignore_errors=True)
