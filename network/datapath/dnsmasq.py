"""One dnsmasq per DHCP network: started, told of host changes (SIGHUP), stopped.

Its files live in `<state_dir>/dhcp/<network id>/` (host file, pid file, leases, and the
command line it was started with); that directory existing means the datapath owns a
dnsmasq for the network. A changed host file is re-read on SIGHUP; a changed command line
restarts it. The pid in the pid file is signalled only while `/proc/<pid>/cmdline` still
shows that network's dnsmasq. The state dir must be readable by `nobody` (dnsmasq re-reads
its host file after dropping privileges).
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import time

from common.atomic_files import write_atomic
from network.datapath.dhcp_plan import DhcpFiles, dnsmasq_argv
from network.datapath.errors import DatapathError
from network.datapath.model import Network
from network.datapath.runner import Runner

STOP_WAIT = 5.0


def dhcp_root(state_dir: str) -> str:
    return os.path.join(state_dir, "dhcp")


def files_for(state_dir: str, network_id: str) -> DhcpFiles:
    return DhcpFiles(os.path.join(dhcp_root(state_dir), network_id))


def owned_networks(state_dir: str) -> set[str]:
    """Ids of the networks that have a dnsmasq directory here."""
    root = dhcp_root(state_dir)
    return set(os.listdir(root)) if os.path.isdir(root) else set()


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        return None


def running_pid(files: DhcpFiles) -> int | None:
    """The pid of this network's dnsmasq if it runs, else None."""
    text = _read(files.pid)
    if not text or not text.strip().isdigit():
        return None
    pid = int(text.strip())
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            cmdline = handle.read().split(b"\0")
    except OSError:
        return None
    wanted = f"--pid-file={files.pid}".encode()
    if not cmdline or not cmdline[0].endswith(b"dnsmasq") or wanted not in cmdline:
        return None
    return pid


def _wait_gone(pid: int) -> bool:
    deadline = time.monotonic() + STOP_WAIT
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        if _is_zombie(pid):
            return True
        time.sleep(0.05)
    return False


def _is_zombie(pid: int) -> bool:
    status = _read(f"/proc/{pid}/stat") or ""
    return status.rsplit(")", 1)[-1].split()[:1] == ["Z"]


def _stop(files: DhcpFiles) -> None:
    pid = running_pid(files)
    if pid is None:
        return
    os.kill(pid, signal.SIGTERM)
    if not _wait_gone(pid):
        os.kill(pid, signal.SIGKILL)
        if not _wait_gone(pid):
            raise DatapathError(["kill", str(pid)], "dnsmasq did not exit")


def sync_dnsmasq(runner: Runner, state_dir: str, network: Network, hosts: str) -> None:
    """Make the network's dnsmasq run with this host file (start, SIGHUP or restart)."""
    files = files_for(state_dir, network.id)
    os.makedirs(files.directory, mode=0o755, exist_ok=True)
    os.chmod(files.directory, 0o755)
    argv = dnsmasq_argv(network, files)
    hosts_changed = _read(files.hosts) != hosts
    if hosts_changed:
        write_atomic(files.hosts, hosts, mode=0o644)
    pid = running_pid(files)
    if pid is not None and _read(files.argv) == json.dumps(argv):
        if hosts_changed:
            os.kill(pid, signal.SIGHUP)
        return
    _stop(files)
    write_atomic(files.argv, json.dumps(argv), mode=0o644)
    runner.run(argv)


def remove_dnsmasq(state_dir: str, network_id: str) -> None:
    """Stop the network's dnsmasq and delete its directory."""
    files = files_for(state_dir, network_id)
    _stop(files)
    shutil.rmtree(files.directory, ignore_errors=True)
