"""Libvirt domain XML for one instance, built with ElementTree (every user string escaped).

`DomainSpec` says what the instance needs: vCPUs, memory, the domain type (`qemu` for TCG,
`kvm` where the hardware allows, `test` for libvirt's test driver), its root disk (qcow2 or
raw file; an ISO is attached as a CD-ROM), an optional kernel/initramfs for direct kernel
boot, the NICs (one `<interface type='bridge'>` per port: the network's bridge, the port's
tap device and MAC; without ports, QEMU user networking or a named libvirt network), the
volumes (network disks on the volume service's NBD exports; a boot volume is `vda` and
takes the root disk's place), the config drive (a read-only CD-ROM), the serial console (its
log file, and a loopback TCP port for interactive use) and a loopback VNC display.
`render_domain_xml(spec)` turns it into the XML string given to `defineXML`.
The server's name and metadata travel in `<title>`/`<description>` and Brume's own
`<metadata>` element, never into an attribute or element name.
"""
from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

BRUME_XMLNS = "https://brume.invalid/xmlns/instance/1.0"


@dataclass(frozen=True)
class Nic:
    """A port's NIC: on `bridge`, through tap `tap`, with the port's `mac`."""

    bridge: str
    tap: str
    mac: str


@dataclass(frozen=True)
class VolumeDisk:
    """A volume of the block-storage service, opened by QEMU over NBD as guest disk `device`."""

    host: str
    port: int
    export: str  # the NBD export name
    device: str  # vda (a boot volume), vdb, ...
    serial: str = ""  # the volume id, as the guest's /dev/disk/by-id sees it


@dataclass(frozen=True)
class DomainSpec:
    name: str  # libvirt domain name, derived from the server id
    uuid: str  # the server id
    vcpus: int
    memory_mb: int
    domain_type: str = "qemu"
    disk_path: str | None = None
    disk_format: str = "qcow2"  # qcow2 | raw | iso
    extra_disk_path: str | None = None  # a qcow2 root disk beside an ISO
    kernel: str | None = None
    initrd: str | None = None
    kernel_cmdline: str = "console=ttyS0"
    network: str | None = None  # None: QEMU user networking; else a libvirt network name
    nics: tuple[Nic, ...] = ()  # the server's ports; when any, `network` is not used
    volumes: tuple[VolumeDisk, ...] = ()  # attached volumes (a boot volume is vda)
    config_drive: str | None = None  # the config drive's ISO
    console_log: str | None = None
    console_port: int | None = None  # the serial console on 127.0.0.1:port (and logged)
    vnc: bool = False  # a VNC display on 127.0.0.1 (port chosen by libvirt)
    display_name: str = ""  # the server's user-given name
    metadata: dict[str, str] = field(default_factory=dict)
    run_as_root: bool = False  # qemu as root when its files sit where others cannot reach


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {k.rstrip("_"): v for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _os_element(root: ET.Element, spec: DomainSpec) -> None:
    os_el = _sub(root, "os")
    if spec.domain_type == "test":
        _sub(os_el, "type", "hvm")
    else:
        _sub(os_el, "type", "hvm", arch="x86_64", machine="pc")
    if spec.kernel:
        _sub(os_el, "kernel", spec.kernel)
        if spec.initrd:
            _sub(os_el, "initrd", spec.initrd)
        _sub(os_el, "cmdline", spec.kernel_cmdline)
    elif spec.disk_format == "iso":
        _sub(os_el, "boot", dev="cdrom")
    else:
        _sub(os_el, "boot", dev="hd")


def _disk_element(devices: ET.Element, spec: DomainSpec) -> None:
    if not spec.disk_path:
        return
    if spec.disk_format == "iso":
        disk = _sub(devices, "disk", type="file", device="cdrom")
        _sub(disk, "driver", name="qemu", type="raw")
        _sub(disk, "source", file=spec.disk_path)
        _sub(disk, "target", dev="sda", bus="sata")
        _sub(disk, "readonly")
        if spec.extra_disk_path:
            extra = _sub(devices, "disk", type="file", device="disk")
            _sub(extra, "driver", name="qemu", type="qcow2")
            _sub(extra, "source", file=spec.extra_disk_path)
            _sub(extra, "target", dev="vda", bus="virtio")
        return
    disk = _sub(devices, "disk", type="file", device="disk")
    _sub(disk, "driver", name="qemu", type=spec.disk_format)
    _sub(disk, "source", file=spec.disk_path)
    _sub(disk, "target", dev="vda", bus="virtio")


def _volume_disk(volume: VolumeDisk) -> ET.Element:
    disk = ET.Element("disk", type="network", device="disk")
    _sub(disk, "driver", name="qemu", type="raw", cache="none")
    source = _sub(disk, "source", protocol="nbd", name=volume.export)
    _sub(source, "host", name=volume.host, port=str(volume.port))
    _sub(disk, "target", dev=volume.device, bus="virtio")
    if volume.serial:
        _sub(disk, "serial", volume.serial[:20])
    return disk


def volume_xml(volume: VolumeDisk) -> str:
    """The device XML of one volume's disk (to attach it to, or detach it from, a domain)."""
    return ET.tostring(_volume_disk(volume), encoding="unicode")


def _config_drive_element(devices: ET.Element, spec: DomainSpec) -> None:
    if not spec.config_drive:
        return
    disk = _sub(devices, "disk", type="file", device="cdrom")
    _sub(disk, "driver", name="qemu", type="raw")
    _sub(disk, "source", file=spec.config_drive)
    # the boot ISO (if any) is sda
    _sub(disk, "target", dev="sdb" if spec.disk_format == "iso" else "sda", bus="sata")
    _sub(disk, "readonly")


def _bridge_interface(port: Nic) -> ET.Element:
    nic = ET.Element("interface", type="bridge")
    _sub(nic, "mac", address=port.mac)
    _sub(nic, "source", bridge=port.bridge)
    _sub(nic, "target", dev=port.tap)
    _sub(nic, "model", type="virtio")
    return nic


def interface_xml(port: Nic) -> str:
    """The device XML of one port's NIC (for attaching it to, or detaching it from, a
    running domain)."""
    return ET.tostring(_bridge_interface(port), encoding="unicode")


def _nic_element(devices: ET.Element, spec: DomainSpec) -> None:
    if spec.nics:
        for port in spec.nics:
            devices.append(_bridge_interface(port))
        return
    if spec.network:
        nic = _sub(devices, "interface", type="network")
        _sub(nic, "source", network=spec.network)
    else:
        nic = _sub(devices, "interface", type="user")
    _sub(nic, "model", type="virtio")


def _console_elements(devices: ET.Element, spec: DomainSpec) -> None:
    """The serial console (ttyS0): with `console_port`, a loopback TCP listener plus its log
    file; else written straight to the log file, appending across boots. And the VNC display.

    A file backend never blocks the guest; a pty with a log stalls the guest's serial output
    once the unread pty buffer is full, since no one is attached to it.
    """
    if spec.console_port:
        # Interactive: QEMU listens on loopback (the agent's console stream connects) and
        # logs everything the guest writes; with no one connected, output is dropped, never
        # blocking the guest.
        serial = _sub(devices, "serial", type="tcp")
        _sub(serial, "source", mode="bind", host="127.0.0.1", service=str(spec.console_port))
        _sub(serial, "protocol", type="raw")
        if spec.console_log:
            _sub(serial, "log", file=spec.console_log, append="on")
    elif spec.console_log:
        serial = _sub(devices, "serial", type="file")
        _sub(serial, "source", path=spec.console_log, append="on")
    else:
        serial = _sub(devices, "serial", type="null")
    _sub(serial, "target", port="0")
    if spec.vnc:
        graphics = _sub(devices, "graphics", type="vnc", port="-1", autoport="yes",
                        listen="127.0.0.1")
        _sub(graphics, "listen", type="address", address="127.0.0.1")


def render_domain_xml(spec: DomainSpec) -> str:
    if spec.vcpus < 1 or spec.memory_mb < 1:
        raise ValueError("a domain needs at least 1 vCPU and 1 MiB of memory")
    root = ET.Element("domain", type=spec.domain_type)
    _sub(root, "name", spec.name)
    _sub(root, "uuid", spec.uuid)
    if spec.display_name:
        _sub(root, "title", spec.display_name)
    metadata = _sub(root, "metadata")
    instance = ET.SubElement(metadata, f"{{{BRUME_XMLNS}}}instance")
    _sub(instance, f"{{{BRUME_XMLNS}}}name", spec.display_name)
    _sub(instance, f"{{{BRUME_XMLNS}}}metadata", json.dumps(spec.metadata, sort_keys=True))
    _sub(root, "memory", str(spec.memory_mb), unit="MiB")
    _sub(root, "vcpu", str(spec.vcpus))
    _os_element(root, spec)
    if spec.domain_type != "test":
        features = _sub(root, "features")
        _sub(features, "acpi")
    _sub(root, "on_poweroff", "destroy")
    _sub(root, "on_reboot", "restart")
    _sub(root, "on_crash", "destroy")
    devices = _sub(root, "devices")
    _disk_element(devices, spec)
    for volume in spec.volumes:
        devices.append(_volume_disk(volume))
    if spec.domain_type != "test":
        _config_drive_element(devices, spec)
        _nic_element(devices, spec)
        _console_elements(devices, spec)
    if spec.run_as_root:
        seclabel = _sub(root, "seclabel", type="static", model="dac", relabel="no")
        _sub(seclabel, "label", "+0:+0")
    ET.register_namespace("brume", BRUME_XMLNS)
    return ET.tostring(root, encoding="unicode")


def read_display_name(xml_text: str) -> str:
    """The server name stored in a domain's XML (as libvirt returns it)."""
    root = ET.fromstring(xml_text)
    title = root.find("title")
    return title.text or "" if title is not None else ""
