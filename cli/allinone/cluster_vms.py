"""This cluster's VMs on its hypervisor, for `brume down`: counted, and removed on request.

Each compute agent's config names its libvirt URI and instances dir. A domain belongs to
this cluster when it is a Brume domain whose instance dir is one of this cluster's agents'
(`compute.driver.own_domains`), so clusters and developers sharing one libvirtd never see or
touch each other's VMs. On libvirt's test driver the VMs live inside the agent processes and
end with them; nothing outlives the cluster there. Hypervisor errors are the compute
layer's `DriverError`.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from cli.allinone.configs import find_option
from cli.allinone.layout import Layout


@dataclass
class Hypervisor:
    """One libvirt URI the cluster's agents use, and their instances dirs on it."""

    uri: str
    instances_dirs: list[str] = field(default_factory=list)

    @property
    def keeps_vms(self) -> bool:
        """False for the test driver, whose VMs end with the agent that made them."""
        return not self.uri.startswith("test:")


@dataclass(frozen=True)
class VmCount:
    uri: str
    running: int
    defined: int  # running or not


def hypervisors(layout: Layout) -> list[Hypervisor]:
    """The libvirt URIs of this cluster's agents (from their configs), in config order."""
    found: dict[str, Hypervisor] = {}
    for spec in layout.all_specs():
        if spec.kind != "agent":
            continue
        uri = find_option(spec.conf_path, "libvirt_uri")
        instances_dir = find_option(spec.conf_path, "instances_dir")
        if not uri or not instances_dir:
            continue  # never configured: this agent never ran
        found.setdefault(uri, Hypervisor(uri)).instances_dirs.append(instances_dir)
    return list(found.values())


def _domains(conn, hypervisor: Hypervisor) -> list:
    from compute.driver import own_domains

    return [domain for instances_dir in hypervisor.instances_dirs
            for domain in own_domains(conn, instances_dir)]


def count(hypervisor: Hypervisor) -> VmCount:
    """How many of this cluster's domains are defined, and running, on `hypervisor`."""
    import libvirt

    from compute.driver import DriverError, connect

    conn = connect(hypervisor.uri)
    try:
        running = defined = 0
        for domain in _domains(conn, hypervisor):
            try:
                active = domain.isActive()
            except libvirt.libvirtError:
                continue  # gone meanwhile
            defined += 1
            running += bool(active)
        return VmCount(hypervisor.uri, running, defined)
    except libvirt.libvirtError as exc:
        raise DriverError(f"cannot list the domains on {hypervisor.uri}: {exc}") from None
    finally:
        conn.close()


def remove(hypervisor: Hypervisor) -> int:
    """Destroy and undefine this cluster's domains on `hypervisor` (instance files stay).
    Returns how many were removed."""
    import libvirt

    from compute.driver import DriverError, connect, remove_domain

    conn = connect(hypervisor.uri)
    try:
        removed = 0
        for domain in _domains(conn, hypervisor):
            try:
                remove_domain(domain)
            except libvirt.libvirtError as exc:
                if domain_gone(conn, domain):
                    continue
                raise DriverError(f"cannot remove {domain.name()} on {hypervisor.uri}: "
                                  f"{exc}") from None
            removed += 1
        return removed
    except libvirt.libvirtError as exc:
        raise DriverError(f"cannot list the domains on {hypervisor.uri}: {exc}") from None
    finally:
        conn.close()


def domain_gone(conn, domain) -> bool:
    import libvirt

    try:
        conn.lookupByUUIDString(domain.UUIDString())
        return False
    except libvirt.libvirtError:
        return True
