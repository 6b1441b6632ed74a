"""Domain XML: well-formed, escaped, and accepted by libvirt's own parser (test driver)."""
import uuid
import xml.etree.ElementTree as ET

import libvirt

from compute.domain_xml import DomainSpec, read_display_name, render_domain_xml

NASTY = '<vm & "x"> \'quoted\' ]]> <!-- -->'


def spec(**overrides):
    base = dict(
        name="brume-" + uuid.uuid4().hex[:8],
        uuid=str(uuid.uuid4()),
        vcpus=1,
        memory_mb=128,
        disk_path="/var/lib/brume/instances/x/disk",
        console_log="/var/lib/brume/instances/x/console.log",
        display_name=NASTY,
        metadata={"k<>": 'v&"\''},
    )
    base.update(overrides)
    return DomainSpec(**base)


def test_user_strings_round_trip_escaped():
    xml = render_domain_xml(spec())
    root = ET.fromstring(xml)
    assert root.attrib["type"] == "qemu"
    assert read_display_name(xml) == NASTY
    assert root.find("devices/disk/target").attrib == {"dev": "vda", "bus": "virtio"}
    serial = root.find("devices/serial")
    assert serial.attrib["type"] == "file"
    assert serial.find("source").attrib == {
        "path": "/var/lib/brume/instances/x/console.log", "append": "on"}
    assert root.find("devices/interface").attrib["type"] == "user"


def test_direct_kernel_boot_and_iso_and_network():
    root = ET.fromstring(render_domain_xml(spec(kernel="/k", initrd="/i", network="default")))
    assert root.find("os/kernel").text == "/k"
    assert root.find("os/initrd").text == "/i"
    assert root.find("os/boot") is None
    assert root.find("devices/interface/source").attrib["network"] == "default"
    iso = ET.fromstring(render_domain_xml(spec(disk_format="iso")))
    assert iso.find("devices/disk").attrib["device"] == "cdrom"
    assert iso.find("os/boot").attrib["dev"] == "cdrom"


def test_libvirt_test_driver_accepts_it():
    conn = libvirt.open("test:///default")
    try:
        s = spec(domain_type="test")
        dom = conn.defineXML(render_domain_xml(s))
        assert dom.name() == s.name
        assert read_display_name(dom.XMLDesc()) == NASTY
        dom.undefine()
    finally:
        conn.close()
