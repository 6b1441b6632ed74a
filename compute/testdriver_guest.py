"""Guests for libvirt's test driver (`test:///default`): minimal domain XML and a fake console.

The test driver runs no real guest, so this builder writes the console log itself: one line
per power event, the way a real guest's serial console would show each boot. A snapshot or
move of a test guest copies a small blank qcow2 made on first use. Builds may be
slowed down (`test_spawn_seconds`) to stand in for image download time in fault tests.
"""
from __future__ import annotations

import os
import time
import xml.etree.ElementTree as ET

from compute.files import append_line
from compute.instance_disks import create_blank

TEST_DISK_SIZE = 1024 * 1024

CONSOLE_LINES = {
    "start": "Brume test guest: booting; power on at {now}",
    "stop": "Brume test guest: ACPI shutdown requested at {now}",
    "reboot": "Brume test guest: rebooting at {now}",
}


class TestGuestBuilder:
    """GuestBuilder for libvirt's test driver."""

    def __init__(self, spawn_seconds: float = 0.0, sleep=time.sleep):
        self.spawn_seconds = spawn_seconds
        self.sleep = sleep

    def prepare(self, instance: dict, image_meta: dict, flavor: dict, instance_dir: str) -> str:
        if self.spawn_seconds > 0:
            self.sleep(self.spawn_seconds)
        domain = ET.Element("domain", type="test")
        ET.SubElement(domain, "name").text = "brume-" + instance["id"]
        ET.SubElement(domain, "uuid").text = instance["id"]
        ET.SubElement(domain, "title").text = instance.get("name", "")
        ET.SubElement(domain, "memory", unit="MiB").text = str(int(flavor["ram"]))
        ET.SubElement(domain, "vcpu").text = str(int(flavor["vcpus"]))
        os_element = ET.SubElement(domain, "os")
        ET.SubElement(os_element, "type").text = "hvm"
        boot = "".join(f", {key} {instance[key]}" for key in ("kernel_id", "ramdisk_id")
                       if instance.get(key))
        append_line(self.console_log_path(instance_dir),
                    f"Brume test guest: image {image_meta.get('id', '?')}{boot} prepared")
        return ET.tostring(domain, encoding="unicode")

    def console_log_path(self, instance_dir: str) -> str:
        return os.path.join(instance_dir, "console.log")

    def guest_event(self, instance_dir: str, event: str) -> None:
        template = CONSOLE_LINES.get(event)
        if template and os.path.isdir(instance_dir):
            append_line(self.console_log_path(instance_dir),
                        template.format(now=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())))

    def cleanup(self, instance: dict | None, instance_dir: str) -> None:
        """Nothing outside the instance dir to release."""

    def root_disk(self, instance_dir: str) -> str | None:
        """A test guest has no disk: a small blank qcow2 stands for it when one is copied."""
        path = os.path.join(instance_dir, "disk")
        if not os.path.exists(path):
            create_blank(path, TEST_DISK_SIZE)
        return path
