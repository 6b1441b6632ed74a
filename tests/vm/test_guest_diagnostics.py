"""Nova-shaped diagnostics from a real libvirt domain (libvirt's test driver)."""
from __future__ import annotations

import libvirt

from compute.guest_diagnostics import nova_diagnostics


def _test_domain():
    conn = libvirt.open("test:///default")
    return conn, conn.lookupByName("test")


def test_running_domain_reports_cpu_memory_disk_and_nic_figures():
    conn, domain = _test_domain()
    try:
        figures = nova_diagnostics(domain)
    finally:
        conn.close()
    assert figures["memory"] == domain.info()[1]
    assert figures["cpu0_time"] > 0
    assert "memory-actual" in figures
    for key in ("vda_read", "vda_write", "vda_read_req", "vda_write_req"):
        assert isinstance(figures[key], int)
    assert any(key.endswith("_rx") for key in figures)
    assert any(key.endswith("_tx") for key in figures)


def test_shut_off_domain_reports_memory_and_cpu_but_no_device_counters():
    conn, domain = _test_domain()
    try:
        domain.destroy()
        figures = nova_diagnostics(domain)
    finally:
        conn.close()
    assert figures["memory"] > 0 and "cpu0_time" in figures
    assert not any(key.startswith("vda_") for key in figures)
