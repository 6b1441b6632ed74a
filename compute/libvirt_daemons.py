"""Makes sure libvirt's daemons run before an agent uses `qemu:///system`.

Debian's libvirt-daemon-system installs `libvirtd` and `virtlogd` but, without systemd, does
not start them. When Brume runs as root and they are not running, `ensure_libvirtd()` starts
them (`virtlogd -d`, `libvirtd -d`) and waits until a connection succeeds. It reports which
libvirt URI is usable so `brume up` can say clearly which driver each agent uses.
"""
from __future__ import annotations

import os
import shutil
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


def ensure_libvirtd(uri: str = SYSTEM_URI, timeout: float = 20.0) -> str:
    """Return `uri` once it accepts connections, starting the daemons if allowed."""
    if can_connect(uri):
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
            return uri
        time.sleep(0.2)
    raise LibvirtUnavailable(f"started libvirtd but {uri} still refuses connections")
