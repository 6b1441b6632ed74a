"""Choosing the libvirt connection the all-in-one cluster's compute agents use.

With `--test-driver` the agents use libvirt's built-in test driver (`test:///default`, no
daemon). Otherwise they use `qemu:///system` when libvirtd answers there; when it does not
and we run as root, `virtlogd` and `libvirtd` are started (daemonized) and probed again;
failing that the agents fall back to the test driver and the user is told why.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time

from cli.allinone.stop_signals import StopSignals

TEST_URI = "test:///default"
QEMU_URI = "qemu:///system"


def libvirt_reachable(uri: str) -> bool:
    try:
        import libvirt
    except ImportError:
        return False
    libvirt.registerErrorHandler(lambda *_args: None, None)
    try:
        conn = libvirt.open(uri)
    except libvirt.libvirtError:
        return False
    conn.close()
    return True


def start_libvirt_daemons() -> list[str]:
    """Start virtlogd and libvirtd in the background (root only). Returns what was started."""
    started = []
    for daemon in ("virtlogd", "libvirtd"):
        binary = shutil.which(daemon) or f"/usr/sbin/{daemon}"
        if not os.path.exists(binary):
            continue
        result = subprocess.run(
            [binary, "--daemon"], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, timeout=30, check=False,
        )
        if result.returncode == 0:
            started.append(daemon)
    return started


def choose_libvirt_uri(test_driver: bool, signals: StopSignals) -> tuple[str, list[str]]:
    """(uri, notes for the user). Raises `Interrupted` when a stop signal comes meanwhile."""
    if test_driver:
        return TEST_URI, []
    from compute.libvirt_daemons import grant_kvm_to_qemu, warm_up

    grant_kvm_to_qemu()  # else libvirtd re-probes QEMU (10-40 s) on every define
    if libvirt_reachable(QEMU_URI):
        warm_up(QEMU_URI)
        return QEMU_URI, []
    notes = []
    if os.geteuid() == 0:
        started = start_libvirt_daemons()
        if started:
            notes.append(f"started {' and '.join(started)}")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                signals.check()
                if libvirt_reachable(QEMU_URI):
                    warm_up(QEMU_URI)
                    return QEMU_URI, notes
                signals.sleep(0.2)
    notes.append(f"libvirtd is not reachable at {QEMU_URI}; compute agents use the test "
                 f"driver ({TEST_URI}), so servers do not run real VMs")
    return TEST_URI, notes
