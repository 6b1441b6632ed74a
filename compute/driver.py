"""The hypervisor driver of a compute agent: every libvirt call the agent makes lives here.

`LibvirtDriver` manages one libvirt connection (`libvirt_uri`) and the per-instance
directories under `instances_dir` (`<instances_dir>/<server id>/`: `domain.xml`,
`console.log`, and whatever the guest builder puts there). What a guest *is* (its disks,
its domain XML, its console) is delegated to a `GuestBuilder`:

- `compute.testdriver_guest.TestGuestBuilder` for libvirt's test driver (`test:///default`);
- the QEMU/KVM builder of the real-VM work (image cache, disks, domain XML) plugs in through
  `compute.guest_builders.make_guest_builder` with the same interface.

Domains are named `brume-<server id>` and carry the server id as their libvirt UUID.
"""
from __future__ import annotations

import os
import shutil
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Protocol

import libvirt

from common.atomic_files import write_atomic
from compute import states
from compute.files import tail_lines
from compute.guest_diagnostics import nova_diagnostics

DOMAIN_PREFIX = "brume-"
STASH_SUFFIX = "_resize"  # a resized or migrated server's source, kept for revertResize

LIBVIRT_POWER_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: states.NOSTATE,
    libvirt.VIR_DOMAIN_RUNNING: states.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: states.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: states.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: states.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: states.SHUTDOWN,
    libvirt.VIR_DOMAIN_CRASHED: states.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: states.SUSPENDED,
}


def _quiet_libvirt(_ctx, _err) -> None:
    """libvirt prints every error on stderr by default; we report them ourselves."""


libvirt.registerErrorHandler(_quiet_libvirt, None)


class DriverError(Exception):
    """A hypervisor operation failed; the message is fit for a server fault.

    `retry = False` (on the class or the instance) says no other host could do better
    (e.g. the image's bytes do not match its checksum): the API then puts the server in
    ERROR at once instead of rescheduling the build.
    """

    retry = True


class InstanceNotFound(DriverError):
    """No domain exists for this server on this host."""


@dataclass(frozen=True)
class InstanceInfo:
    power_state: int
    max_memory_kb: int
    memory_kb: int
    vcpus: int
    cpu_time_ns: int


class GuestBuilder(Protocol):
    """What differs between guest kinds (test driver, QEMU/KVM)."""

    def prepare(self, instance: dict, image_meta: dict, flavor: dict, instance_dir: str) -> str:
        """Make everything the guest needs (disks, ...) and return its domain XML."""

    def console_log_path(self, instance_dir: str) -> str:
        """Where the guest's serial console is written."""

    def guest_event(self, instance_dir: str, event: str) -> None:
        """A power event happened (test guests write their console here; QEMU does nothing)."""

    def cleanup(self, instance: dict | None, instance_dir: str) -> None:
        """Release what prepare() took besides the instance dir (e.g. cache references)."""

    def root_disk(self, instance_dir: str) -> str | None:
        """The qcow2 file the guest's root disk is (copied by snapshots and moves)."""


def offload_blocking_calls(conn):
    """In a green (monkey-patched) agent, run libvirt calls in eventlet's OS thread pool.

    A libvirt call (define, create, shutdown on QEMU) can block for a second or more; run
    inline it would stall every green thread of the agent, heartbeats included. Domains
    returned by the connection are wrapped the same way. Outside eventlet: unchanged.
    """
    from eventlet import patcher, tpool

    if not patcher.is_monkey_patched("thread"):
        return conn
    return tpool.Proxy(conn, autowrap=(libvirt.virDomain, libvirt.virConnect))


def domain_name(server_id: str) -> str:
    return DOMAIN_PREFIX + server_id


def connect(uri: str) -> libvirt.virConnect:
    """A libvirt connection to `uri`; DriverError when libvirt cannot be reached there."""
    try:
        return libvirt.open(uri)
    except libvirt.libvirtError as exc:
        raise DriverError(f"cannot connect to {uri}: {exc}") from None


def own_domains(conn: libvirt.virConnect, instances_dir: str) -> list[libvirt.virDomain]:
    """The Brume domains whose instance dir is in `instances_dir`.

    Agents (and whole clusters) may share one libvirtd: a domain belongs to the agent whose
    instances_dir holds its `<server id>/` directory, and to no other.
    """
    return [
        domain for domain in conn.listAllDomains()
        if domain.name().startswith(DOMAIN_PREFIX)
        and os.path.isdir(os.path.join(instances_dir, domain.UUIDString()))
        and _files_here(domain, instances_dir)
    ]


def _files_here(domain: libvirt.virDomain, instances_dir: str) -> bool:
    """False when the domain's files are in another agent's instance dir of the same server
    (a server evacuated or migrated away leaves its old directory behind on a shared
    libvirtd); True for a domain that names no instance file (the test driver's)."""
    server_id = domain.UUIDString()
    try:
        xml = domain.XMLDesc(0)
    except libvirt.libvirtError:
        return True
    if f"/{server_id}/" not in xml:
        return True
    return os.path.join(os.path.abspath(instances_dir), server_id) + "/" in xml


def remove_domain(domain: libvirt.virDomain) -> None:
    """Power the domain off (at once) and undefine it; its files stay. Raises libvirtError."""
    if domain.isActive():
        domain.destroy()
    domain.undefine()


class LibvirtDriver:
    """Spawn, power and delete guests through libvirt-python."""

    def __init__(self, uri: str, instances_dir: str, builder: GuestBuilder, stop_timeout=60.0):
        self.uri = uri
        self.instances_dir = instances_dir
        self.builder = builder
        self.stop_timeout = stop_timeout
        self._conn: libvirt.virConnect | None = None

    # connection and host ---------------------------------------------------------------
    @property
    def conn(self) -> libvirt.virConnect:
        if self._conn is None or not self._conn.isAlive():
            self._conn = offload_blocking_calls(connect(self.uri))
        return self._conn

    def host_capacity(self) -> dict:
        """vCPUs, RAM (MiB), disk (GB) and hypervisor type/version as libvirt reports them."""
        info = self.conn.getInfo()
        try:
            version = self.conn.getVersion()
        except libvirt.libvirtError:
            version = 0
        try:
            usage = shutil.disk_usage(self._existing_parent(self.instances_dir))
            local_gb = usage.total // (1024**3)
        except OSError:
            local_gb = 0
        return {
            "vcpus": int(info[2]),
            "memory_mb": int(info[1]),
            "local_gb": int(local_gb),
            "hypervisor_type": self.conn.getType(),
            "hypervisor_version": int(version),
        }

    @staticmethod
    def _existing_parent(path: str) -> str:
        path = os.path.abspath(path)
        while not os.path.exists(path):
            path = os.path.dirname(path)
        return path

    # instances -------------------------------------------------------------------------
    def instance_dir(self, server_id: str) -> str:
        return os.path.join(self.instances_dir, server_id)

    def _domain(self, server_id: str) -> libvirt.virDomain:
        try:
            return self.conn.lookupByUUIDString(server_id)
        except libvirt.libvirtError:
            raise InstanceNotFound(f"no domain for instance {server_id}") from None

    def spawn(self, instance: dict, image_meta: dict, flavor: dict, start: bool = True) -> None:
        """Create the guest and start it (unless `start` is False: defined, shut off). On
        failure nothing is left behind."""
        directory = self.instance_dir(instance["id"])
        try:
            os.makedirs(directory, exist_ok=True)
            xml = self.builder.prepare(instance, image_meta, flavor, directory)
            write_atomic(os.path.join(directory, "domain.xml"), xml.encode("utf-8"))
            domain = self.conn.defineXML(xml)
            if start:
                domain.create()
                self.builder.guest_event(directory, "start")
        except (OSError, libvirt.libvirtError, DriverError) as exc:
            self.destroy(instance["id"], instance)
            retry = getattr(exc, "retry", True)
            error = DriverError(f"spawn failed on this host: {exc}" if retry else str(exc))
            error.retry = retry
            raise error from None

    def power_on(self, server_id: str) -> None:
        domain = self._domain(server_id)
        try:
            if not domain.isActive():
                domain.create()
                self.builder.guest_event(self.instance_dir(server_id), "start")
        except libvirt.libvirtError as exc:
            raise DriverError(f"start failed: {exc}") from None

    def power_off(self, server_id: str, sleep=time.sleep) -> None:
        """ACPI shutdown, then a forced power off after `stop_timeout` seconds."""
        domain = self._domain(server_id)
        try:
            if not domain.isActive():
                return
            self.builder.guest_event(self.instance_dir(server_id), "stop")
            domain.shutdown()
            deadline = time.monotonic() + self.stop_timeout
            while domain.isActive() and time.monotonic() < deadline:
                sleep(0.5)
            if domain.isActive():
                domain.destroy()
        except libvirt.libvirtError as exc:
            raise DriverError(f"stop failed: {exc}") from None

    def reboot(self, server_id: str, hard: bool) -> None:
        domain = self._domain(server_id)
        try:
            self.builder.guest_event(self.instance_dir(server_id), "reboot")
            if hard or not domain.isActive():
                if domain.isActive():
                    domain.destroy()
                domain.create()
            else:
                domain.reboot(0)
        except libvirt.libvirtError as exc:
            raise DriverError(f"reboot failed: {exc}") from None

    def attach_device(self, server_id: str, xml: str) -> None:
        """Add a device to the domain's definition, and to the running guest if it runs."""
        self._change_device(server_id, xml, attach=True)

    def detach_device(self, server_id: str, xml: str) -> None:
        self._change_device(server_id, xml, attach=False)

    def _change_device(self, server_id: str, xml: str, attach: bool) -> None:
        domain = self._domain(server_id)
        try:
            flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
            if domain.isActive():
                flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
            if attach:
                domain.attachDeviceFlags(xml, flags)
            else:
                domain.detachDeviceFlags(xml, flags)
            definition = domain.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        except libvirt.libvirtError as exc:
            raise DriverError(f"{'attach' if attach else 'detach'} failed: {exc}") from None
        write_atomic(os.path.join(self.instance_dir(server_id), "domain.xml"),
                     definition.encode("utf-8"))

    def wait_device_gone(self, server_id: str, target_dev: str, sleep=time.sleep,
                         timeout: float = 60.0) -> None:
        """Wait until the running guest released disk `target_dev` (a hot-unplug needs the
        guest's consent); DriverError when it still holds it after `timeout` seconds."""
        domain = self._domain(server_id)
        deadline = time.monotonic() + timeout
        try:
            while domain.isActive():
                tree = ET.fromstring(domain.XMLDesc(0))
                if not any(t.get("dev") == target_dev
                           for t in tree.findall("./devices/disk/target")):
                    return
                if time.monotonic() > deadline:
                    raise DriverError(f"the guest did not release {target_dev} within "
                                      f"{timeout:g} s")
                sleep(0.5)
        except libvirt.libvirtError as exc:
            raise DriverError(f"detach failed: {exc}") from None

    def destroy(self, server_id: str, instance: dict | None = None) -> None:
        """Power off, undefine, and remove the instance's files. Idempotent."""
        try:
            domain = self.conn.lookupByUUIDString(server_id)
        except (libvirt.libvirtError, DriverError):
            domain = None
        if domain is not None:
            try:
                remove_domain(domain)
            except libvirt.libvirtError as exc:
                raise DriverError(f"delete failed: {exc}") from None
        directory = self.instance_dir(server_id)
        self.builder.cleanup(instance, directory)
        shutil.rmtree(directory, ignore_errors=True)

    def get_info(self, server_id: str) -> InstanceInfo:
        domain = self._domain(server_id)
        try:
            state, max_mem, mem, vcpus, cpu_time = domain.info()
        except libvirt.libvirtError as exc:
            raise DriverError(f"cannot read instance state: {exc}") from None
        return InstanceInfo(LIBVIRT_POWER_STATES.get(state, states.NOSTATE), max_mem, mem,
                            vcpus, cpu_time)

    def list_instances(self) -> dict[str, int]:
        """{server id: power_state} for every Brume domain of this agent.

        A domain counts only when its instance dir is in this agent's instances_dir: agents
        sharing one libvirtd (the all-in-one cluster's hv1 and hv2 on qemu:///system) must
        not report, sync or delete each other's domains.
        """
        found = {}
        for domain in own_domains(self.conn, self.instances_dir):
            try:
                state = domain.state()[0]
            except libvirt.libvirtError:
                continue
            found[domain.UUIDString()] = LIBVIRT_POWER_STATES.get(state, states.NOSTATE)
        return found

    def get_console_output(self, server_id: str, length: int | None) -> str:
        self._domain(server_id)
        path = self.builder.console_log_path(self.instance_dir(server_id))
        return tail_lines(path, length)

    def console_port(self, server_id: str, kind: str) -> int | None:
        """The loopback TCP port of a running guest's serial console (`serial`, a `<serial
        type='tcp'>`) or VNC display (`vnc`); None when it has none."""
        domain = self._domain(server_id)
        try:
            if not domain.isActive():
                return None
            devices = ET.fromstring(domain.XMLDesc(0)).find("devices")
        except (libvirt.libvirtError, ET.ParseError) as exc:
            raise DriverError(f"cannot read the console of {server_id}: {exc}") from None
        if devices is None:
            return None
        if kind == "serial":
            source = devices.find("serial[@type='tcp']/source")
            port = source.get("service") if source is not None else None
        else:
            graphics = devices.find("graphics[@type='vnc']")
            port = graphics.get("port") if graphics is not None else None
        return int(port) if port and port.isdigit() and int(port) > 0 else None

    def get_diagnostics(self, server_id: str) -> dict:
        """CPU time, memory, and per-disk / per-NIC byte counters as libvirt reports them."""
        domain = self._domain(server_id)
        info = self.get_info(server_id)
        result = {
            "state": states.POWER_STATE_NAMES.get(info.power_state, "NOSTATE"),
            "cpu_time_ns": info.cpu_time_ns,
            "num_cpus": info.vcpus,
            "memory_kb": info.memory_kb,
            "max_memory_kb": info.max_memory_kb,
            "disks": [],
            "nics": [],
        }
        try:  # plus Nova's flat keys: cpu0_time, memory, memory-actual, vda_read, ...
            result.update(nova_diagnostics(domain))
        except (libvirt.libvirtError, ET.ParseError):
            pass
        try:
            tree = ET.fromstring(domain.XMLDesc(0))
        except (libvirt.libvirtError, ET.ParseError):
            return result
        active = info.power_state == states.RUNNING
        for target in tree.findall("./devices/disk/target"):
            dev = target.get("dev")
            entry = {"device": dev}
            if active:
                try:
                    rd_req, rd_bytes, wr_req, wr_bytes, _ = domain.blockStats(dev)
                    entry.update(read_bytes=rd_bytes, write_bytes=wr_bytes,
                                 read_requests=rd_req, write_requests=wr_req)
                except libvirt.libvirtError:
                    pass
            result["disks"].append(entry)
        for target in tree.findall("./devices/interface/target"):
            dev = target.get("dev")
            entry = {"device": dev}
            if active:
                try:
                    stats = domain.interfaceStats(dev)
                    entry.update(rx_bytes=stats[0], rx_packets=stats[1],
                                 tx_bytes=stats[4], tx_packets=stats[5])
                except libvirt.libvirtError:
                    pass
            result["nics"].append(entry)
        return result

    def restore_persistent_definitions(self) -> list[str]:
        """Re-define domains whose domain.xml exists but which libvirt does not know.

        libvirtd keeps persistent definitions across agent restarts by itself; the test
        driver keeps them only in process memory, so on a test URI the agent re-defines them
        from the instance directories (shut off, as after a host reboot).
        """
        if not self.uri.startswith("test:") or not os.path.isdir(self.instances_dir):
            return []
        restored = []
        known = set(self.list_instances())
        for server_id in sorted(os.listdir(self.instances_dir)):
            xml_path = os.path.join(self.instances_dir, server_id, "domain.xml")
            if server_id in known or server_id.endswith(STASH_SUFFIX) or not os.path.isfile(
                    xml_path):
                continue
            with open(xml_path, encoding="utf-8") as handle:
                xml = handle.read()
            try:
                self.conn.defineXML(xml)
            except libvirt.libvirtError:
                continue
            restored.append(server_id)
        return restored

    # day-2 operations (compute.agent_lifecycle) ------------------------------------------
    def root_disk(self, server_id: str) -> str:
        """The path of the instance's root disk (qcow2); DriverError when it has none."""
        self._domain(server_id)
        path = self.builder.root_disk(self.instance_dir(server_id))
        if path is None:
            raise DriverError(f"instance {server_id} has no root disk image to copy")
        return path

    def is_running(self, server_id: str) -> bool:
        try:
            return bool(self._domain(server_id).isActive())
        except libvirt.libvirtError as exc:
            raise DriverError(f"cannot read instance state: {exc}") from None

    def suspend(self, server_id: str) -> None:
        """Pause the guest's vCPUs; QEMU drains and flushes its disks first."""
        try:
            self._domain(server_id).suspend()
        except libvirt.libvirtError as exc:
            raise DriverError(f"pause failed: {exc}") from None

    def resume(self, server_id: str) -> None:
        try:
            self._domain(server_id).resume()
        except libvirt.libvirtError as exc:
            raise DriverError(f"resume failed: {exc}") from None

    def stash_dir(self, server_id: str) -> str:
        return self.instance_dir(server_id) + STASH_SUFFIX

    def stash(self, server_id: str) -> None:
        """Keep a shut-off server's files for a revert and forget its domain: undefine it
        and rename its directory `<id>_resize` (no longer this agent's instance)."""
        domain = self._domain(server_id)
        try:
            if domain.isActive():
                domain.destroy()
            domain.undefine()
        except libvirt.libvirtError as exc:
            raise DriverError(f"cannot set the source aside: {exc}") from None
        shutil.rmtree(self.stash_dir(server_id), ignore_errors=True)
        os.rename(self.instance_dir(server_id), self.stash_dir(server_id))

    def unstash(self, server_id: str, start: bool) -> None:
        """Bring a stashed source back: its directory, its domain, started if asked."""
        if not os.path.isdir(self.stash_dir(server_id)):
            raise InstanceNotFound(f"no kept source for instance {server_id}")
        shutil.rmtree(self.instance_dir(server_id), ignore_errors=True)
        os.rename(self.stash_dir(server_id), self.instance_dir(server_id))
        with open(os.path.join(self.instance_dir(server_id), "domain.xml"),
                  encoding="utf-8") as handle:
            xml = handle.read()
        try:
            domain = self.conn.defineXML(xml)
            if start:
                domain.create()
                self.builder.guest_event(self.instance_dir(server_id), "start")
        except libvirt.libvirtError as exc:
            raise DriverError(f"cannot restore the source: {exc}") from None

    def drop_stash(self, server_id: str) -> None:
        shutil.rmtree(self.stash_dir(server_id), ignore_errors=True)
