"""An agent's view of a server's volumes: the `connection_info` the volume service gave
(an NBD export) turned into the guest disk QEMU opens (`compute.domain_xml.VolumeDisk`).

No IO. Only `driver_volume_type: nbd` with a host, a port and an export name is accepted;
anything else is a `VolumeDiskError` (the build or the attach fails with its message).
"""
from __future__ import annotations

import re

from compute.domain_xml import VolumeDisk

DEVICE_RE = re.compile(r"^vd[a-z]$")
EXPORT_RE = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
HOST_RE = re.compile(r"^[A-Za-z0-9.:-]{1,255}$")


class VolumeDiskError(ValueError):
    """A volume record this agent cannot open."""


def volume_disk(item: dict) -> VolumeDisk:
    info = item.get("connection_info") if isinstance(item, dict) else None
    data = info.get("data") if isinstance(info, dict) else None
    if not isinstance(data, dict) or info.get("driver_volume_type") != "nbd":
        raise VolumeDiskError("volume connection is not an NBD export")
    host, port, export = data.get("host"), data.get("port"), data.get("name")
    device = item.get("device")
    if not (isinstance(host, str) and HOST_RE.match(host) and isinstance(port, int)
            and not isinstance(port, bool) and 0 < port < 65536 and isinstance(export, str)
            and EXPORT_RE.match(export) and isinstance(device, str)
            and DEVICE_RE.match(device)):
        raise VolumeDiskError("volume connection names no valid host, port, export or device")
    serial = item.get("volume_id") if isinstance(item.get("volume_id"), str) else ""
    return VolumeDisk(host, port, export, device, serial)


def volume_disks(records: list[dict]) -> tuple[VolumeDisk, ...]:
    return tuple(volume_disk(item) for item in records or [])


def has_boot_volume(records: list[dict]) -> bool:
    return any(item.get("boot_index") == 0 for item in records or [])
