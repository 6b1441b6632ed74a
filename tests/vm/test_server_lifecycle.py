"""Day-2 operations on real VMs (libvirt + QEMU, TCG), both agents of the all-in-one in use.

One server carries a marker on its root disk: its user_data (config drive) writes it to the
demo image's spare region, and the demo guest prints what it finds there on every boot,
before user_data runs. The marker survives, in this order: a snapshot booted as a new
server, shelve → unshelve, a resize (host changes) and its confirm, a cold migration and its
revert, another migration and its confirm, and an evacuation from a host whose agent was
killed (and whose VM died with it), rebuilt from the newest backup. The instance actions
record it all. One cluster and one chained server keep the guest boots few.
"""
from __future__ import annotations

import base64
import configparser
import os
import shutil
import signal
import urllib.parse
import uuid

import pytest

from cli.demo_image import DISK_MARKER_LINE, MARKER_OFFSET_MIB
from tests.compute.support import http
from tests.integration.support import brume, set_section_options, wait_until
from tests.vm.conftest import _build_demo
from tests.vm.qemu_support import VmCloud, start_qemu_cluster

pytestmark = pytest.mark.qemu

BOOT_TIMEOUT = 120.0
MOVE_TIMEOUT = 240.0
ADMIN = "admin:admin"
MARK = "BRUME-MARK-" + uuid.uuid4().hex[:8]
USER_DATA = f"""#!/bin/sh
printf '%s' '{MARK}' | dd of=/dev/vda bs=1M seek={MARKER_OFFSET_MIB} conv=notrunc 2>/dev/null
sync
echo "BRUME-DEMO: marker written"
"""


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    data_dir = str(tmp_path_factory.mktemp("brume-lifecycle"))
    handle = start_qemu_cluster(data_dir)
    vm_cloud = None
    try:
        spec = handle.service_spec("compute-api")
        set_section_options(spec.conf_path, "compute-api", {"heartbeat_window": "10",
                                                            "monitor_interval": "2"})
        handle.kill_service(spec.name, signal.SIGTERM)
        handle.start_service(spec.name)
        vm_cloud = VmCloud(handle)
        yield vm_cloud
    finally:
        brume("down", "--data-dir", data_dir, "--timeout", "10", check=False)
        if vm_cloud is not None:
            for agent in ("hv1", "hv2"):
                parser = configparser.ConfigParser(interpolation=None)
                parser.read(handle.service_spec(f"agent-{agent}").conf_path)
                vm_cloud.instances_dir = parser.get("compute-agent", "instances_dir")
                vm_cloud.remove_leftover_domains()
        if os.environ.get("BRUME_KEEP_TEST_CLUSTER") != "1":
            shutil.rmtree(data_dir, ignore_errors=True)


def call(cloud, method, path, body=None, user="test:tester", headers=None):
    return http(method, cloud.compute + path, cloud.token(user), body=body, timeout=120,
                headers=headers)


def image(cloud, image_id: str):
    return http("GET", f"{cloud.handle.image_url}/v2/images/{image_id}", cloud.token(),
                timeout=60)


def admin_view(cloud, server_id: str) -> dict:
    status, answer = call(cloud, "GET", f"/servers/{server_id}", user=ADMIN)
    assert status == 200, answer
    return answer["server"]


def act(cloud, server_id: str, body, user="test:tester", expect=(202,), headers=None):
    status, answer = call(cloud, "POST", f"/servers/{server_id}/action", body, user=user,
                          headers=headers)
    assert status in expect, (status, answer)
    return answer


def wait_marks(cloud, server_id: str, count: int = 1) -> None:
    cloud.wait_console_count(server_id, DISK_MARKER_LINE + MARK, count, timeout=BOOT_TIMEOUT)


def wait_image_active(cloud, image_id: str) -> dict:
    def active():
        status, record = image(cloud, image_id)
        assert status == 200, record
        assert record["status"] in ("queued", "saving", "active"), record
        return record if record["status"] == "active" else None

    return wait_until(active, timeout=MOVE_TIMEOUT, interval=1.0,
                      message=f"image {image_id} not active")


def backups(cloud, server_id: str) -> list[dict]:
    query = urllib.parse.urlencode({"instance_uuid": server_id, "image_type": "backup"})
    status, answer = http("GET", f"{cloud.handle.image_url}/v2/images?{query}", cloud.token(),
                          timeout=60)
    assert status == 200, answer
    return answer["images"]


def test_marker_survives_snapshot_shelve_resize_migration_and_evacuation(cloud, tmp_path):
    demo = _build_demo(cloud, str(tmp_path / "demo"))
    status, answer = call(cloud, "POST", "/servers", {"server": {
        "name": "keeper", "imageRef": demo["id"], "flavorRef": "1", "config_drive": True,
        "user_data": base64.b64encode(USER_DATA.encode()).decode()}})
    assert status == 202, answer
    server_id = answer["server"]["id"]
    cloud.wait_status(server_id, "ACTIVE", timeout=BOOT_TIMEOUT)
    cloud.wait_console_count(server_id, "BRUME-DEMO: marker written", 1, timeout=BOOT_TIMEOUT)
    assert DISK_MARKER_LINE + "none" in cloud.console(server_id)

    # snapshot of the running server → a new server boots with the marker
    answer = act(cloud, server_id, {"createImage": {"name": "keeper-snap",
                                                    "metadata": {"purpose": "test"}}},
                 headers={"OpenStack-API-Version": "compute 2.45"})
    snapshot = wait_image_active(cloud, answer["image_id"])
    assert snapshot["image_type"] == "snapshot" and snapshot["instance_uuid"] == server_id
    assert snapshot["base_image_ref"] == demo["id"] and snapshot["purpose"] == "test"
    assert snapshot["disk_format"] == "qcow2" and snapshot["checksum"]
    cloud.wait_status(server_id, "ACTIVE")
    copy_id = cloud.boot("from-snapshot", snapshot["id"])
    cloud.wait_status(copy_id, "ACTIVE", timeout=BOOT_TIMEOUT)
    wait_marks(cloud, copy_id)
    cloud.delete(copy_id)

    # shelve: the disk into the image service, the host freed; unshelve from it
    act(cloud, server_id, {"shelve": None})
    cloud.wait_status(server_id, "SHELVED_OFFLOADED", timeout=MOVE_TIMEOUT)
    shelved = admin_view(cloud, server_id)
    assert shelved["OS-EXT-SRV-ATTR:host"] is None and not cloud.domain_exists(server_id)
    act(cloud, server_id, {"unshelve": None})
    cloud.wait_status(server_id, "ACTIVE", timeout=MOVE_TIMEOUT)
    wait_marks(cloud, server_id)
    query = urllib.parse.urlencode({"name": "keeper-shelved"})
    status, listing = http("GET", f"{cloud.handle.image_url}/v2/images?{query}", cloud.token(),
                           timeout=60)
    assert status == 200 and listing["images"] == [], listing

    # resize to m1.small: another host, VERIFY_RESIZE, confirm
    before = admin_view(cloud, server_id)["OS-EXT-SRV-ATTR:host"]
    act(cloud, server_id, {"resize": {"flavorRef": "2"}})
    cloud.wait_status(server_id, "VERIFY_RESIZE", timeout=MOVE_TIMEOUT)
    resized = admin_view(cloud, server_id)
    assert resized["OS-EXT-SRV-ATTR:host"] != before and resized["flavor"]["id"] == "2"
    wait_marks(cloud, server_id)
    call(cloud, "POST", f"/servers/{server_id}/action", {"confirmResize": None})
    assert cloud.wait_status(server_id, "ACTIVE")["flavor"]["id"] == "2"

    # cold migration (admin): reverted (the old host's domain comes back), then confirmed
    act(cloud, server_id, {"migrate": None}, expect=(403,))
    first = admin_view(cloud, server_id)["OS-EXT-SRV-ATTR:host"]
    act(cloud, server_id, {"migrate": None}, user=ADMIN)
    cloud.wait_status(server_id, "VERIFY_RESIZE", timeout=MOVE_TIMEOUT)
    assert admin_view(cloud, server_id)["OS-EXT-SRV-ATTR:host"] != first
    wait_marks(cloud, server_id)
    act(cloud, server_id, {"revertResize": None})
    cloud.wait_status(server_id, "ACTIVE", timeout=MOVE_TIMEOUT)
    assert admin_view(cloud, server_id)["OS-EXT-SRV-ATTR:host"] == first
    wait_marks(cloud, server_id, 2)  # the source's console, booted a second time
    act(cloud, server_id, {"migrate": {"host": before}}, user=ADMIN)
    cloud.wait_status(server_id, "VERIFY_RESIZE", timeout=MOVE_TIMEOUT)
    wait_marks(cloud, server_id)
    act(cloud, server_id, {"confirmResize": None}, expect=(204,))
    cloud.wait_status(server_id, "ACTIVE")
    host = admin_view(cloud, server_id)["OS-EXT-SRV-ATTR:host"]
    assert host == before

    # backups with rotation 1: one left, the newest
    for name in ("keeper-b1", "keeper-b2"):
        act(cloud, server_id, {"createBackup": {"name": name, "backup_type": "daily",
                                                "rotation": 1}})
        cloud.wait_status(server_id, "ACTIVE", timeout=MOVE_TIMEOUT)
    kept = wait_until(lambda: (b := backups(cloud, server_id)) and len(b) == 1 and b,
                      timeout=60, interval=1.0, message="backups not rotated to one")
    assert kept[0]["name"] == "keeper-b2" and kept[0]["backup_type"] == "daily"

    # the host dies (agent killed, its VM gone): shown as such, evacuated from the backup
    cloud.handle.kill_service(f"agent-{host}", signal.SIGKILL)
    domain = cloud.libvirt.lookupByUUIDString(server_id)
    domain.destroy()
    domain.undefine()
    wait_until(lambda: admin_view(cloud, server_id).get("host_status") == "DOWN", timeout=60,
               interval=1.0, message="host not shown DOWN")
    assert cloud.server(server_id)["host_status"] == "UNKNOWN"
    act(cloud, server_id, {"evacuate": {}}, expect=(403,))
    act(cloud, server_id, {"evacuate": {}}, user=ADMIN, expect=(200,))
    cloud.wait_status(server_id, "ACTIVE", timeout=MOVE_TIMEOUT)
    moved = admin_view(cloud, server_id)
    assert moved["OS-EXT-SRV-ATTR:host"] != host and moved["host_status"] == "UP"
    wait_marks(cloud, server_id)  # the original image has no marker: this is the backup
    cloud.handle.start_service(f"agent-{host}")
    wait_until(lambda: any(h["hypervisor_hostname"] == host and h["state"] == "up"
                           for h in call(cloud, "GET", "/os-hypervisors",
                                         user=ADMIN)[1]["hypervisors"]),
               timeout=60, interval=1.0, message=f"{host} not back up")
    cloud.wait_status(server_id, "ACTIVE")  # the old host's agent left it alone
    assert cloud.libvirt.lookupByUUIDString(server_id).isActive()

    # instance actions: who did what, and how it went
    status, answer = call(cloud, "GET", f"/servers/{server_id}/os-instance-actions")
    assert status == 200, answer
    actions = answer["instanceActions"]
    names = [a["action"] for a in reversed(actions)]
    assert names == ["create", "createImage", "shelve", "unshelve", "resize", "confirmResize",
                     "migrate", "revertResize", "migrate", "confirmResize", "createBackup",
                     "createBackup", "evacuate"], names
    for entry in actions:
        status, detail = call(cloud, "GET",
                              f"/servers/{server_id}/os-instance-actions/{entry['request_id']}")
        assert status == 200, detail
        events = detail["instanceAction"]["events"]
        assert [e["result"] for e in events] == ["Success"], detail
        assert detail["instanceAction"]["message"] is None
    cloud.delete(server_id)
