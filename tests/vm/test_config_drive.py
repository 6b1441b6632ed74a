"""The config drive (an ISO labelled config-2, read back with xorriso) and the domain XML of
a server with ports and a config drive."""
from __future__ import annotations

import base64
import json
import shutil
import subprocess
import xml.etree.ElementTree as ET

import pytest

from compute import vm_network
from compute.config_drive import drive_files, hostname_of, write_drive
from compute.domain_xml import DomainSpec, render_domain_xml
from compute.network_info import network_data

pytestmark = pytest.mark.skipif(shutil.which("xorriso") is None, reason="needs xorriso")

SERVER = "0b3f2c4e-8d7a-4c51-9a66-2f1e0c9d7b10"
PORT = "5e6f7a8b-1c2d-4e3f-8a9b-0c1d2e3f4a5b"
NETWORK = "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d"


def instance(**extra) -> dict:
    return {"id": SERVER, "name": "Web Server #1", "project_id": "demo",
            "availability_zone": "nova", "metadata": {"role": "web", "ü": "ä"},
            "key_name": "laptop", "key_data": "ssh-ed25519 AAAAC3Nza me@host",
            "user_data": base64.b64encode(b"#cloud-config\nruncmd: [echo hi]\n").decode(),
            "config_drive": True, **extra}


PORTS = [{"port_id": PORT, "network_id": NETWORK, "network_name": "blue",
          "mac_address": "fa:16:3e:12:34:56",
          "fixed_ips": [{"ip_address": "10.0.0.5", "subnet_id": "s1"}],
          "floating_ips": [], "preexisting": False}]


def read_back(iso: str, out) -> dict[str, bytes]:
    subprocess.run(["xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", str(out)],
                   check=True, capture_output=True)
    return {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def volume_id(iso: str) -> str:
    result = subprocess.run(["xorriso", "-indev", iso, "-pvd_info"], check=True,
                            capture_output=True, text=True)
    for line in (result.stdout + result.stderr).splitlines():
        if line.startswith("Volume Id"):
            return line.split(":", 1)[1].strip()
    return ""


def test_config_drive_iso_holds_metadata_user_data_and_network_data(tmp_path):
    iso = str(tmp_path / "disk.config")
    write_drive(iso, drive_files(instance(), network_data(PORTS, vm_network.link_name)))
    assert volume_id(iso) == "config-2"
    files = read_back(iso, tmp_path / "out")
    assert set(files) == {"openstack/latest/meta_data.json", "openstack/latest/user_data",
                          "openstack/latest/network_data.json"}
    meta = json.loads(files["openstack/latest/meta_data.json"])
    assert meta["uuid"] == SERVER and meta["name"] == "Web Server #1"
    assert meta["hostname"] == "web-server-1"
    assert meta["public_keys"] == {"laptop": "ssh-ed25519 AAAAC3Nza me@host"}
    assert meta["keys"] == [{"name": "laptop", "type": "ssh",
                             "data": "ssh-ed25519 AAAAC3Nza me@host"}]
    assert meta["meta"] == {"role": "web", "ü": "ä"}
    assert files["openstack/latest/user_data"] == b"#cloud-config\nruncmd: [echo hi]\n"
    net = json.loads(files["openstack/latest/network_data.json"])
    tap = vm_network.link_name(PORT)
    assert net["links"] == [{"id": tap, "vif_id": PORT, "type": "bridge",
                             "ethernet_mac_address": "fa:16:3e:12:34:56", "mtu": None}]
    assert net["networks"] == [{"id": "network0", "link": tap, "type": "ipv4_dhcp",
                                "network_id": NETWORK}]


def test_config_drive_without_key_or_user_data(tmp_path):
    iso = str(tmp_path / "disk.config")
    bare = instance(key_name=None, key_data=None, user_data=None, name="", metadata={})
    write_drive(iso, drive_files(bare, network_data([], vm_network.link_name)))
    files = read_back(iso, tmp_path / "out")
    assert "openstack/latest/user_data" not in files
    meta = json.loads(files["openstack/latest/meta_data.json"])
    assert meta["public_keys"] == {} and meta["hostname"] == "server-0b3f2c4e"
    assert json.loads(files["openstack/latest/network_data.json"]) == {
        "links": [], "networks": [], "services": []}


def test_hostnames_are_dns_labels():
    assert hostname_of("My_VM.example", "x") == "my-vm-example"
    assert hostname_of("---", "fallback") == "fallback"
    assert len(hostname_of("a" * 300, "x")) == 63


def test_domain_with_ports_and_config_drive_stays_tcg():
    nics = vm_network.nics(PORTS)
    xml = render_domain_xml(DomainSpec(
        name="brume-" + SERVER, uuid=SERVER, vcpus=1, memory_mb=128,
        disk_path="/i/disk", nics=nics, config_drive="/i/disk.config",
        console_log="/i/console.log"))
    root = ET.fromstring(xml)
    assert root.attrib["type"] == "qemu"
    [nic] = root.findall("devices/interface")
    assert nic.attrib["type"] == "bridge"
    assert nic.find("source").attrib["bridge"] == "brq" + NETWORK.replace("-", "")[:12]
    assert nic.find("target").attrib["dev"] == "tap" + PORT.replace("-", "")[:12]
    assert nic.find("mac").attrib["address"] == "fa:16:3e:12:34:56"
    cdroms = [d for d in root.findall("devices/disk") if d.attrib["device"] == "cdrom"]
    assert [d.find("source").attrib["file"] for d in cdroms] == ["/i/disk.config"]
    assert cdroms[0].find("readonly") is not None
    # Without ports: the one NIC on QEMU user networking, as before.
    plain = ET.fromstring(render_domain_xml(DomainSpec(
        name="brume-x", uuid=SERVER, vcpus=1, memory_mb=128, disk_path="/i/disk")))
    assert [n.attrib["type"] for n in plain.findall("devices/interface")] == ["user"]
