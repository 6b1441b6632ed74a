"""Nova-shaped per-server monitoring figures from a libvirt domain.

`nova_diagnostics(domain)` returns the keys Nova's `GET /servers/{id}/diagnostics` (the
pre-2.48 form) uses: `cpuN_time` (ns per vCPU), `memory` (KiB), `memory-<stat>` from the
balloon (`actual`, `rss`, ...), `<disk>_read`/`_write`/`_read_req`/`_write_req`/`_errors`
per disk target, and `<nic>_rx`/`_tx`/`_rx_packets`/... per NIC that has a host-side device
(QEMU user networking has none, so it reports no NIC counters). Figures that libvirt cannot
give for the domain's current state (e.g. block stats of a shut-off domain) are left out.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET

import libvirt

NIC_FIELDS = ("rx", "rx_packets", "rx_errors", "rx_drop", "tx", "tx_packets", "tx_errors",
              "tx_drop")


def _safe(call, *args):
    try:
        return call(*args)
    except libvirt.libvirtError:
        return None


def nova_diagnostics(domain) -> dict:
    figures: dict[str, int] = {}
    info = _safe(domain.info)
    if info is not None:
        figures["memory"] = int(info[1])
    vcpus = _safe(domain.vcpus) if domain.isActive() else None
    if vcpus:
        for number, _state, cpu_time, _cpu in vcpus[0]:
            figures[f"cpu{number}_time"] = int(cpu_time)
    elif info is not None:
        figures["cpu0_time"] = int(info[4])
    memory_stats = _safe(domain.memoryStats) if domain.isActive() else None
    for name, value in (memory_stats or {}).items():
        figures[f"memory-{name}"] = int(value)
    tree = ET.fromstring(domain.XMLDesc(0))
    if not domain.isActive():
        return figures
    for target in tree.findall("./devices/disk/target"):
        dev = target.get("dev")
        stats = _safe(domain.blockStats, dev) if dev else None
        if stats:
            read_req, read_bytes, write_req, write_bytes, errors = stats
            figures.update({f"{dev}_read": read_bytes, f"{dev}_write": write_bytes,
                            f"{dev}_read_req": read_req, f"{dev}_write_req": write_req,
                            f"{dev}_errors": errors})
    for target in tree.findall("./devices/interface/target"):
        dev = target.get("dev")
        stats = _safe(domain.interfaceStats, dev) if dev else None
        if stats:
            figures.update({f"{dev}_{field}": int(value)
                            for field, value in zip(NIC_FIELDS, stats, strict=False)})
    return figures
