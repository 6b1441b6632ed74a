"""Real VMs under libvirt + QEMU (TCG): the demo image pulled, cached, booted and powered.

Every test runs against one `brume up` cluster whose agents use qemu:///system (hv2 disabled,
so every server lands on hv1 and shares its image cache). Boots take ~7 s of guest time
under TCG; the deadlines are generous for busy CI machines.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
import xml.etree.ElementTree as ET

import pytest

from cli.demo_image import DEMO_BOOT_LINE
from tests.imagesvc import hostile_images as hostile
from tests.integration.support import wait_until

pytestmark = pytest.mark.qemu

BOOT_TIMEOUT = 90.0


def _boot_and_wait(cloud, name: str, image_id: str, console: bool = True) -> str:
    """Boot; wait for ACTIVE (a running QEMU domain) and, if asked, the guest's boot line."""
    server_id = cloud.boot(name, image_id)
    cloud.wait_status(server_id, "ACTIVE", timeout=BOOT_TIMEOUT)
    assert cloud.libvirt.lookupByUUIDString(server_id).isActive()
    if console:
        cloud.wait_console_count(server_id, DEMO_BOOT_LINE, 1, timeout=BOOT_TIMEOUT)
    return server_id


def test_demo_image_boots_stops_starts_reboots_and_deletes(vm_cloud, demo_image):
    image_id = demo_image["id"]
    server_id = _boot_and_wait(vm_cloud, "demo-lifecycle", image_id)
    domain = vm_cloud.libvirt.lookupByUUIDString(server_id)
    assert domain.isActive()
    status, diagnostics = vm_cloud.api("GET", f"/servers/{server_id}/diagnostics")
    assert status == 200, diagnostics
    assert diagnostics["cpu0_time"] > 0 and diagnostics["memory"] == 128 * 1024
    assert diagnostics["vda_read"] > 0 and diagnostics["vda_read_req"] > 0

    vm_cloud.action(server_id, {"os-stop": None})
    vm_cloud.wait_status(server_id, "SHUTOFF", timeout=60)
    assert not domain.isActive()

    vm_cloud.action(server_id, {"os-start": None})
    vm_cloud.wait_status(server_id, "ACTIVE", timeout=60)
    vm_cloud.wait_console_count(server_id, DEMO_BOOT_LINE, 2, timeout=BOOT_TIMEOUT)

    vm_cloud.action(server_id, {"reboot": {"type": "SOFT"}})
    vm_cloud.wait_status(server_id, "ACTIVE", timeout=60)
    vm_cloud.wait_console_count(server_id, DEMO_BOOT_LINE, 3, timeout=BOOT_TIMEOUT)

    instance_dir = vm_cloud.instance_dir(server_id)
    assert os.path.isdir(instance_dir)
    vm_cloud.delete(server_id)
    assert not vm_cloud.domain_exists(server_id)
    assert not os.path.exists(instance_dir)
    assert os.path.isfile(vm_cloud.cached_path(image_id))  # the cached base stays


def test_second_server_from_a_cached_image_downloads_nothing(vm_cloud, demo_image):
    image_id = demo_image["id"]
    if not os.path.exists(vm_cloud.cached_path(image_id)):
        vm_cloud.delete(_boot_and_wait(vm_cloud, "demo-warm", image_id))
    assert vm_cloud.downloads(image_id) == 1
    server_id = _boot_and_wait(vm_cloud, "demo-second", image_id, console=False)
    try:
        assert vm_cloud.downloads(image_id) == 1
    finally:
        vm_cloud.delete(server_id)


def test_server_with_markup_in_its_name_boots_and_keeps_it(vm_cloud, demo_image):
    name = '<vm & "x">'
    server_id = _boot_and_wait(vm_cloud, name, demo_image["id"], console=False)
    try:
        assert vm_cloud.server(server_id)["name"] == name
        status, listing = vm_cloud.api("GET", "/servers?name=%3Cvm")
        assert status == 200 and name in [s["name"] for s in listing["servers"]]
        xml = vm_cloud.libvirt.lookupByUUIDString(server_id).XMLDesc(0)
        assert ET.fromstring(xml).findtext("title") == name
    finally:
        vm_cloud.delete(server_id)


def test_image_whose_bytes_do_not_match_its_checksum_fails_the_build(vm_cloud, tmp_path):
    disk = str(tmp_path / "small.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "64M"], check=True)
    image = vm_cloud.upload(disk, "corrupted-later")
    with open(disk, "rb") as handle:
        good = handle.read()
    # Same length, different bytes, written behind the image service's back.
    vm_cloud.overwrite_image_object(image["id"], good[:-1] + bytes([good[-1] ^ 0xFF]))

    server_id = vm_cloud.boot("corrupt", image["id"])
    try:
        server = vm_cloud.wait_status(server_id, "ERROR", timeout=60)
        assert "checksum mismatch" in server["fault"]["message"], server["fault"]
        assert vm_cloud.cache_leftovers(image["id"]) == []
        assert vm_cloud.downloads(image["id"]) == 0
        assert not vm_cloud.domain_exists(server_id)
    finally:
        vm_cloud.delete(server_id)


def test_guest_that_powers_itself_off_is_reported_shutoff(vm_cloud, poweroff_image):
    server_id = _boot_and_wait(vm_cloud, "demo-poweroff", poweroff_image["id"])
    try:
        server = vm_cloud.wait_status(server_id, "SHUTOFF", timeout=BOOT_TIMEOUT)
        assert server["OS-EXT-STS:power_state"] == 4  # SHUTDOWN, as Nova reports it
        assert "powering off by itself" in vm_cloud.console(server_id)
        assert not vm_cloud.libvirt.lookupByUUIDString(server_id).isActive()
    finally:
        vm_cloud.delete(server_id)


def test_two_concurrent_boots_of_an_uncached_image_download_it_once(vm_cloud, demo_image,
                                                                   demo_files):
    image = vm_cloud.upload(os.path.join(demo_files, "demo.qcow2"), "demo-copy")
    assert vm_cloud.downloads(image["id"]) == 0
    ids: list[str] = []
    errors: list[BaseException] = []

    def boot(name: str) -> None:
        try:
            ids.append(vm_cloud.boot(name, image["id"]))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=boot, args=(f"demo-twin-{n}",)) for n in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert not errors, errors
        for server_id in ids:
            vm_cloud.wait_status(server_id, "ACTIVE", timeout=BOOT_TIMEOUT)
            assert vm_cloud.libvirt.lookupByUUIDString(server_id).isActive()
        assert vm_cloud.downloads(image["id"]) == 1
        assert wait_until(lambda: os.path.isfile(vm_cloud.cached_path(image["id"])))
    finally:
        for server_id in ids:
            vm_cloud.delete(server_id)


@pytest.mark.parametrize("plant, message", [
    (hostile.qcow2_with_backing_host_file, "backing file"),
    (lambda where: os.urandom(256 * 1024), "not a qcow2"),
], ids=["backing-file", "wrong-format"])
def test_unsafe_cached_base_fails_the_build_and_is_removed(vm_cloud, tmp_path, plant, message):
    """The agent does not trust the image service's inspection: a base planted in its cache
    (as if the service had let it through) is checked before any disk is made."""
    disk = hostile.qemu_img_create(tmp_path, "honest.qcow2", "-f", "qcow2", size="64M")
    image = vm_cloud.upload(disk, "planted-later")
    os.makedirs(vm_cloud.cache_dir, exist_ok=True)
    with open(vm_cloud.cached_path(image["id"]), "wb") as handle:
        handle.write(plant(tmp_path))

    server_id = vm_cloud.boot("planted", image["id"])
    try:
        server = vm_cloud.wait_status(server_id, "ERROR", timeout=60)
        fault = server["fault"]["message"]
        assert "unsafe to boot" in fault and message in fault, fault
        assert "removed from this host's image cache" in fault
        assert vm_cloud.cache_leftovers(image["id"]) == []
        assert not vm_cloud.domain_exists(server_id)
        assert not os.path.exists(os.path.join(vm_cloud.instance_dir(server_id), "disk"))
    finally:
        vm_cloud.delete(server_id)
    # The honest bytes from the image service boot afterwards (downloaded and checked anew).
    server_id = vm_cloud.boot("honest-again", image["id"])
    try:
        vm_cloud.wait_status(server_id, "ACTIVE", timeout=BOOT_TIMEOUT)
        assert vm_cloud.downloads(image["id"]) == 1
    finally:
        vm_cloud.delete(server_id)


def test_direct_kernel_boot_with_the_projects_own_kernel_and_ramdisk(vm_cloud, demo_image,
                                                                     demo_files, tmp_path):
    """The demo kernel and initramfs uploaded as the project's own aki/ari; a blank disk whose
    kernel_id/ramdisk_id name them boots straight into the initramfs (its console line)."""
    kernel = vm_cloud.upload(os.path.join(demo_files, "vmlinuz"), "demo-vmlinuz", "aki")
    ramdisk = vm_cloud.upload(os.path.join(demo_files, "initrd.img"), "demo-initrd", "ari")
    blank = hostile.qemu_img_create(tmp_path, "blank.qcow2", "-f", "qcow2", size="64M")
    disk = vm_cloud.upload(blank, "kernel-boot-disk", "qcow2",
                           "--property", f"kernel_id={kernel['id']}",
                           "--property", f"ramdisk_id={ramdisk['id']}")
    server_id = _boot_and_wait(vm_cloud, "kernel-boot", disk["id"])
    try:
        xml = ET.fromstring(vm_cloud.libvirt.lookupByUUIDString(server_id).XMLDesc(0))
        assert xml.findtext("os/kernel") == vm_cloud.cached_path(kernel["id"])
        assert xml.findtext("os/initrd") == vm_cloud.cached_path(ramdisk["id"])
    finally:
        vm_cloud.delete(server_id)


def test_serial_console_websocket_answers_and_vnc_speaks_rfb(vm_cloud, demo_image):
    """Issue 14's console: a line typed through the serial console websocket is read by the
    guest's shell, whose answer comes back (and lands in the console log too); the VNC URL
    carries the display's RFB stream; a console token opens one connection only."""
    from cli.serial_console import ConsoleError, ConsoleSession

    server_id = _boot_and_wait(vm_cloud, "demo-console", demo_image["id"])
    status, body = vm_cloud.api("POST", f"/servers/{server_id}/remote-consoles", {
        "remote_console": {"protocol": "serial", "type": "serial"}})
    assert status == 200, body
    console = body["remote_console"]
    assert (console["protocol"], console["type"]) == ("serial", "serial")
    assert console["url"].startswith("ws://") and "token=" in console["url"]
    session = ConsoleSession(console["url"])
    try:
        seen = b""
        deadline = 60
        session.sock.settimeout(5)
        session.send(b"\recho BRUME-$((6*7))-ECHO\r")
        start = time.monotonic()
        while b"BRUME-42-ECHO" not in seen and time.monotonic() - start < deadline:
            try:
                seen += session.receive()
            except TimeoutError:
                session.send(b"\recho BRUME-$((6*7))-ECHO\r")
    finally:
        session.close()
    assert b"BRUME-42-ECHO" in seen, seen[-2000:]
    with pytest.raises(ConsoleError):  # the token is spent
        ConsoleSession(console["url"])
    assert "BRUME-42-ECHO" in vm_cloud.console(server_id)

    # The same through the web dashboard's relay: the browser's WebSocket goes to the
    # dashboard, which opens compute's console with the user's token.
    from common import websocket
    from tests.dashboard.test_console_relay import login, open_console

    dashboard = vm_cloud.handle.dashboard_url
    cookie, csrf = login(dashboard)
    sock, status_line, rest = open_console(dashboard, cookie, dashboard, server_id)
    try:
        assert " 101 " in status_line, status_line
        sock.settimeout(5)
        parser = websocket.FrameParser(require_mask=False)
        seen = b"".join(payload for _op, payload in parser.feed(rest))
        sock.sendall(websocket.encode(websocket.TEXT, csrf.encode(), mask=True))
        line = b"\recho BRUME-$((6*8))-DASH\r"
        sock.sendall(websocket.encode(websocket.BINARY, line, mask=True))
        start = time.monotonic()
        while b"BRUME-48-DASH" not in seen and time.monotonic() - start < 60:
            try:
                data = sock.recv(65536)
            except TimeoutError:
                sock.sendall(websocket.encode(websocket.BINARY, line, mask=True))
                continue
            if not data:
                break
            seen += b"".join(payload for _op, payload in parser.feed(data))
    finally:
        sock.close()
    assert b"BRUME-48-DASH" in seen, seen[-2000:]

    status, body = vm_cloud.api("POST", f"/servers/{server_id}/action",
                                {"os-getVNCConsole": {"type": "novnc"}})
    assert status == 200, body
    vnc = ConsoleSession(body["console"]["url"])
    try:
        vnc.sock.settimeout(10)
        greeting = vnc.receive()
    finally:
        vnc.close()
    assert greeting.startswith(b"RFB 003."), greeting
    status, body = vm_cloud.api("POST", f"/servers/{server_id}/remote-consoles", {
        "remote_console": {"protocol": "serial", "type": "novnc"}})
    assert status == 400, body
    vm_cloud.delete(server_id)
