"""Volumes on real VMs (libvirt + QEMU, TCG): a volume hot-plugged into one server (an NBD
disk served by the volume service's qemu-nbd) gets that server's marker written by its guest
(the demo image's init marks a blank /dev/vdb); detached, its file holds the marker; attached
to a second server, which boots from a volume made from the demo image, the second guest
reads the first one's marker; the boot-from-volume guest reaches its console banner.

Volumes are attached once the guest has named its root disk (its `DISK_MARKER_LINE`, printed
after virtio_blk has probed /dev/vda), as a user attaches to a booted server: a disk plugged
in before the driver loads is probed beside the root disk, and the kernel may then call the
volume vda and the root disk vdb (and the guest would mark its own root disk)."""
from __future__ import annotations

import os

import pytest

from cli.demo_image import DEMO_BOOT_LINE, DISK_MARKER_LINE
from tests.compute.support import http
from tests.integration.support import wait_until

pytestmark = pytest.mark.qemu

BOOT_TIMEOUT = 120.0


def volumes(cloud, method: str, path: str, body=None):
    url = f"{cloud.handle.volume_url}/v3/test{path}"
    return http(method, url, cloud.token(), body=body, timeout=120)


def wait_volume(cloud, volume_id: str, wanted: str) -> dict:
    def reached():
        status, answer = volumes(cloud, "GET", f"/volumes/{volume_id}")
        assert status == 200 and not answer["volume"]["status"].startswith("error"), answer
        return answer["volume"] if answer["volume"]["status"] == wanted else None

    return wait_until(reached, timeout=BOOT_TIMEOUT, interval=0.5,
                      message=f"volume {volume_id} not {wanted}")


def test_volume_moves_between_servers_and_a_server_boots_from_a_volume(vm_cloud, demo_image):
    cloud = vm_cloud
    status, answer = volumes(cloud, "POST", "/volumes", {"volume": {"size": 1, "name": "v"}})
    assert status == 202, answer
    volume_id = answer["volume"]["id"]
    wait_volume(cloud, volume_id, "available")

    first = cloud.boot("vol-first", demo_image["id"])
    cloud.wait_status(first, "ACTIVE", timeout=BOOT_TIMEOUT)
    cloud.wait_console_count(first, DISK_MARKER_LINE, 1, timeout=BOOT_TIMEOUT)
    status, answer = cloud.api("POST", f"/servers/{first}/os-volume_attachments",
                               {"volumeAttachment": {"volumeId": volume_id}})
    assert status == 200, answer
    assert wait_volume(cloud, volume_id, "in-use")["attachments"][0]["server_id"] == first
    console = cloud.wait_console_count(first, f"BRUME-DEMO: vdb marked BRUME-MARK {first}", 1,
                                       timeout=BOOT_TIMEOUT)
    assert f"vdb marked BRUME-MARK {first} (serial {volume_id[:20]})" in console, \
        console[-2000:]  # the guest's vdb is the volume, not another disk
    status, answer = cloud.api("DELETE", f"/servers/{first}/os-volume_attachments/{volume_id}")
    assert status == 202, answer
    wait_volume(cloud, volume_id, "available")
    path = os.path.join(cloud.handle.layout.var_dir("volume"), "volumes", f"volume-{volume_id}")
    with open(path, "rb") as handle:
        assert handle.read(64).startswith(f"BRUME-MARK {first}\n".encode())
    cloud.delete(first)

    status, answer = cloud.api("POST", "/servers", {"server": {
        "name": "vol-second", "flavorRef": "1", "imageRef": "",
        "block_device_mapping_v2": [{
            "boot_index": 0, "uuid": demo_image["id"], "source_type": "image",
            "destination_type": "volume", "volume_size": 1, "delete_on_termination": True}]}})
    assert status == 202, answer
    second = answer["server"]["id"]
    server = cloud.wait_status(second, "ACTIVE", timeout=BOOT_TIMEOUT)
    [root] = server["os-extended-volumes:volumes_attached"]
    cloud.wait_console_count(second, DEMO_BOOT_LINE, 1, timeout=BOOT_TIMEOUT)
    cloud.wait_console_count(second, DISK_MARKER_LINE, 1, timeout=BOOT_TIMEOUT)
    status, answer = cloud.api("POST", f"/servers/{second}/os-volume_attachments",
                               {"volumeAttachment": {"volumeId": volume_id}})
    assert status == 200, answer
    console = cloud.wait_console_count(second, f"BRUME-DEMO: vdb holds BRUME-MARK {first}", 1,
                                       timeout=BOOT_TIMEOUT)
    assert f"vdb holds BRUME-MARK {first} (serial {volume_id[:20]})" in console, console[-2000:]
    cloud.delete(second)
    wait_volume(cloud, volume_id, "available")
    wait_until(lambda: volumes(cloud, "GET", f"/volumes/{root['id']}")[0] == 404,
               timeout=60, message="boot volume deleted with its server")
    assert volumes(cloud, "DELETE", f"/volumes/{volume_id}")[0] == 202
