"""This cluster's volume exports, for `brume down`: counted, and stopped on request.

The volume service exports attached volumes with one `qemu-nbd` each (`volume.exports`),
and, like VMs, they outlive the service (a running guest keeps its disk). `brume down`
says how many are left; `brume down --with-vms` stops them once the VMs using them are gone.
"""
from __future__ import annotations

import os

from cli.allinone.layout import Layout
from volume.exports import NbdExports


def _exports(layout: Layout) -> NbdExports | None:
    directory = os.path.join(layout.var_dir("volume"), "volumes")
    if not os.path.isdir(os.path.join(directory, "exports")):
        return None
    return NbdExports(directory, layout.service_ip)


def running(layout: Layout) -> list[str]:
    """Attachment ids whose export still runs."""
    exports = _exports(layout)
    if exports is None:
        return []
    names = sorted(n[:-4] for n in os.listdir(exports.directory) if n.endswith(".pid"))
    return [name for name in names if exports.running(name)]


def stop_all(layout: Layout) -> int:
    exports = _exports(layout)
    found = running(layout)
    for attachment_id in found:
        exports.stop(attachment_id)
    return len(found)
