"""Attached volumes exported over NBD: one `qemu-nbd` per attachment, on this node's address.

A hypervisor's QEMU opens the volume as `<disk type='network'><source protocol='nbd'
name='volume-<id>'><host name=... port=.../>`, so every hypervisor node that can reach
`export_host` can attach any volume, with no shared filesystem. `start` runs `qemu-nbd
--fork --persistent` on the raw file (the parent returns once the server listens), bound to
`export_host` and the port the store gave the attachment, with its pid in
`<volumes_dir>/exports/<attachment id>.pid`; `stop` sends SIGTERM to that pid (only if its
command line is still that export's) and waits for it to end, so the file is flushed and
closed before the volume is available again. Exports outlive the service (as VMs outlive
their agent): `running` finds them again by their pid files. NBD has no authentication:
`export_host` belongs on the hypervisors' storage network (loopback in the all-in-one).
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time


class ExportError(Exception):
    """An export could not be started."""


def export_name(volume_id: str) -> str:
    return f"volume-{volume_id}"


def connection_info(host: str, port: int, volume_id: str) -> dict:
    """What a hypervisor needs to open the export (Cinder's `connection_info` shape)."""
    return {"driver_volume_type": "nbd",
            "data": {"host": host, "port": port, "name": export_name(volume_id),
                     "format": "raw", "volume_id": volume_id}}


class NbdExports:
    def __init__(self, directory: str, host: str, sleep=time.sleep):
        self.directory = os.path.join(directory, "exports")
        self.host = host
        self.sleep = sleep
        os.makedirs(self.directory, exist_ok=True)

    def _pid_path(self, attachment_id: str) -> str:
        return os.path.join(self.directory, f"{attachment_id}.pid")

    def port_busy(self, port: int) -> bool:
        """Whether something already listens on `export_host:port` (another program)."""
        probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((self.host, port))
            return False
        except OSError:
            return True
        finally:
            probe.close()

    def start(self, attachment_id: str, volume_id: str, path: str, port: int) -> None:
        if self.running(attachment_id, path):
            return
        command = ["qemu-nbd", "--fork", "--persistent", "--shared=2", "--format=raw",
                   "--cache=writeback", f"--export-name={export_name(volume_id)}",
                   f"--bind={self.host}", f"--port={port}",
                   f"--pid-file={self._pid_path(attachment_id)}", path]
        try:
            result = subprocess.run(command, capture_output=True, text=True, timeout=60,
                                    stdin=subprocess.DEVNULL)
        except FileNotFoundError:
            raise ExportError("qemu-nbd is not installed on the volume node") from None
        except subprocess.TimeoutExpired:
            raise ExportError("qemu-nbd did not start within 60 s") from None
        if result.returncode != 0:
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise ExportError(f"qemu-nbd failed: {lines[-1] if lines else result.returncode}")

    def _pid(self, attachment_id: str, path: str | None = None) -> int | None:
        """The export's live pid (None when it is not running)."""
        try:
            with open(self._pid_path(attachment_id)) as handle:
                pid = int(handle.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                argv = handle.read().split(b"\0")
        except (OSError, ValueError):
            return None
        if not argv or not argv[0].endswith(b"qemu-nbd"):
            return None
        if path is not None and os.fsencode(path) not in argv:
            return None
        return pid

    def running(self, attachment_id: str, path: str | None = None) -> bool:
        return self._pid(attachment_id, path) is not None

    def stop(self, attachment_id: str, timeout: float = 30.0) -> None:
        pid = self._pid(attachment_id)
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pid = None
            deadline = time.monotonic() + timeout
            while pid is not None and os.path.exists(f"/proc/{pid}") \
                    and time.monotonic() < deadline:
                if _zombie(pid):
                    break
                self.sleep(0.05)
            if pid is not None and os.path.exists(f"/proc/{pid}") and not _zombie(pid):
                os.kill(pid, signal.SIGKILL)
        try:
            os.unlink(self._pid_path(attachment_id))
        except FileNotFoundError:
            pass


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (OSError, IndexError):
        return True
