"""Makes sure libvirt's daemons run before an agent uses `qemu:///system`.

Debian's libvirt-daemon-system installs `libvirtd` and `virtlogd` but, without systemd, does
not start them. When Brume runs as root and they are not running, `ensure_libvirtd()` starts
them (`virtlogd -d`, `libvirtd -d`) and waits until a connection succeeds. It reports which
libvirt URI is usable so `brume up` can say clearly which driver each agent uses.

Two host fixes keep libvirt calls fast (a slow call would stall an agent's heartbeats):
`grant_kvm_to_qemu()` gives /dev/kvm to the `kvm` group as Debian's udev rule would (without
it libvirtd re-probes QEMU's capabilities, 10-40 s, on every lookup because the probe saw KVM
and the qemu user cannot open it), and `warm_up()` makes libvirtd probe QEMU once, up front.
"""
from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import time

SYSTEM_URI = "qemu:///system"
TEST_URI = "test:///default"


class LibvirtUnavailable(Exception):
    """libvirtd cannot be reached or started; the message is one line for the user."""


def _open_quietly(uri: str):
    import libvirt

    libvirt.registerErrorHandler(lambda ctx, err: None, None)
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError:
        return None


def can_connect(uri: str = SYSTEM_URI) -> bool:
    conn = _open_quietly(uri)
    if conn is None:
        return False
    conn.close()
    return True


def _running(name: str) -> bool:
    result = subprocess.run(["pgrep", "-x", name], capture_output=True)
    return result.returncode == 0


KVM_DEVICE = "/dev/kvm"


def grant_kvm_to_qemu(device: str = KVM_DEVICE) -> bool:
    """root:kvm 0660 on /dev/kvm when it is root-only (root only). True if changed."""
    if os.geteuid() != 0:
        return False
    try:
        info = os.stat(device)
        kvm_gid = grp.getgrnam("kvm").gr_gid
    except (OSError, KeyError):
        return False
    if info.st_gid == kvm_gid and stat.S_IMODE(info.st_mode) & 0o060 == 0o060:
        return False
    os.chown(device, -1, kvm_gid)
    os.chmod(device, stat.S_IMODE(info.st_mode) | 0o660)
    return True


def warm_up(uri: str = SYSTEM_URI) -> None:
    """Have libvirtd probe (and cache) QEMU's capabilities now rather than on a first boot."""
    conn = _open_quietly(uri)
    if conn is None:
        return
    import libvirt

    try:
        conn.getDomainCapabilities(None, "x86_64", None, "qemu", 0)
    except libvirt.libvirtError:
        pass
    finally:
        conn.close()


def ensure_libvirtd(uri: str = SYSTEM_URI, timeout: float = 20.0) -> str:
    """Return `uri` once it accepts connections, starting the daemons if allowed."""
    grant_kvm_to_qemu()
    if can_connect(uri):
        warm_up(uri)
        return uri
    if os.geteuid() != 0:
        raise LibvirtUnavailable(f"cannot connect to {uri} and not root to start libvirtd")
    for daemon in ("virtlogd", "libvirtd"):
        if shutil.which(daemon) is None:
            raise LibvirtUnavailable(f"{daemon} not installed: run ./install.sh")
        if not _running(daemon):
            subprocess.run([daemon, "-d"], check=False, capture_output=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if can_connect(uri):
            warm_up(uri)
            return uri
        time.sleep(0.2)
    raise LibvirtUnavailable(f"started libvirtd but {uri} still refuses connections")
