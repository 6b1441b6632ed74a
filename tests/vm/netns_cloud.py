"""Running a whole QEMU cloud inside a network namespace the test run creates.

`run_in_netns(workdir, argv)` makes a namespace `brume-t<random>`, and runs argv in it with
its own mount namespace in which tmpfs covers libvirt's run, state, config and log dirs
(`/run`, `/var/lib/libvirt`, `/etc/libvirt/qemu`, `/var/cache/libvirt`, `/var/log/libvirt`):
the libvirtd that `brume up` starts there never meets the host's (sockets, pid files,
persistent domains), and bridges, taps, dnsmasq, nftables and VM addresses all live in the
namespace. Nothing is ever sent to a VM address from the host's own namespace. Afterwards
every process still in the namespace (libvirtd, virtlogd, QEMU, dnsmasq, leftover services)
is killed by pid and the namespace deleted, whatever happened.
"""
from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time

PRIVATE_DIRS = ("/run", "/var/lib/libvirt", "/etc/libvirt/qemu", "/var/cache/libvirt",
                "/var/log/libvirt")


def _pids(netns: str) -> list[int]:
    result = subprocess.run(["ip", "netns", "pids", netns], capture_output=True, text=True,
                            check=False)
    return [int(p) for p in result.stdout.split() if p.isdigit()]


def _kill_all(netns: str) -> None:
    for signum, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
        pids = _pids(netns)
        for pid in pids:
            try:
                os.kill(pid, signum)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + wait
        while pids and time.monotonic() < deadline:
            time.sleep(0.2)
            pids = _pids(netns)
        if not pids:
            return


def run_in_netns(argv: list[str], timeout: float, env: dict | None = None
                 ) -> subprocess.CompletedProcess:
    netns = "brume-t" + secrets.token_hex(4)
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        mounts = " && ".join(
            f"{{ [ ! -d {d} ] || mount -t tmpfs -o mode=0755 brume-{i} {d}; }}"
            for i, d in enumerate(PRIVATE_DIRS))
        script = f"set -e; {mounts}; ip link set lo up; exec \"$@\""
        return subprocess.run(
            ["ip", "netns", "exec", netns, "unshare", "--mount", "--propagation", "private",
             "sh", "-c", script, "netns-cloud", *argv],
            capture_output=True, text=True, timeout=timeout, env=env, check=False)
    finally:
        _kill_all(netns)
        subprocess.run(["ip", "netns", "del", netns], check=False)
