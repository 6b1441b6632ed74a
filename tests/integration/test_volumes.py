"""The session cluster's volume service (Cinder v3 shapes, `brume up` starts it), with real
parts end to end: a volume made from a qcow2 image of the image service holds the image's
bytes; an attachment runs a real `qemu-nbd` export that `qemu-io` reads and writes over NBD,
and the bytes are in the volume's file after the detach; a backup goes into the object store
(chunks plus a metadata object in the project's container) and restores, into a new volume
and into an existing one, to the same bytes; through the compute API (test driver) a volume
is attached to a server (in-use, a second attach or a delete is a 409), detached, and a
server boots from a volume made from an image."""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.integration.support import wait_until
from tests.integration.test_keystone_tokens import v3_token

pytestmark = pytest.mark.cluster

MARK = b"BRUME-VOLUME-MARK"


def call(method: str, url: str, token: str, body=None, raw: bytes | None = None,
         content_type: str = "application/json"):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, method=method, data=data, headers={
        "X-Auth-Token": token, "Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            payload = answer.read()
            return answer.status, json.loads(payload) if payload else None
    except urllib.error.HTTPError as exc:
        payload = exc.read()
        try:
            return exc.code, json.loads(payload)
        except ValueError:
            return exc.code, payload


@pytest.fixture(scope="module")
def token(cluster):
    return v3_token(cluster, "tester", "testing")


@pytest.fixture(scope="module")
def api(cluster):
    return f"{cluster.volume_url}/v3/test"


def volume_file(cluster, volume_id: str) -> str:
    return os.path.join(cluster.layout.var_dir("volume"), "volumes", f"volume-{volume_id}")


def wait_status(api, token, kind: str, ident: str, wanted: str = "available") -> dict:
    found = {}

    def done():
        status, doc = call("GET", f"{api}/{kind}s/{ident}", token)
        found.update(doc[kind])
        assert found["status"] not in ("error", "error_restoring"), found
        return found["status"] == wanted

    wait_until(done, timeout=120, interval=0.3, message=f"{kind} {ident} {wanted}")
    return found


def create_volume(api, token, **spec) -> dict:
    status, doc = call("POST", f"{api}/volumes", token, {"volume": spec})
    assert status == 202, doc
    return wait_status(api, token, "volume", doc["volume"]["id"])


def sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@pytest.fixture(scope="module")
def qcow2_image(cluster, token, tmp_path_factory):
    """A qcow2 image (2 MiB virtual, MARK at 1 MiB) uploaded to the image service."""
    work = tmp_path_factory.mktemp("volimg")
    raw = work / "disk.raw"
    with open(raw, "wb") as handle:
        handle.truncate(2 * 1024 * 1024)
        handle.seek(1024 * 1024)
        handle.write(MARK)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw),
                    str(work / "disk.qcow2")], check=True)
    status, image = call("POST", f"{cluster.image_url}/v2/images", token, {
        "name": "volume-source", "disk_format": "qcow2", "container_format": "bare"})
    assert status == 201, image
    status, _ = call("PUT", f"{cluster.image_url}/v2/images/{image['id']}/file", token,
                     raw=(work / "disk.qcow2").read_bytes(),
                     content_type="application/octet-stream")
    assert status == 204
    return image["id"]


def test_volume_from_image_holds_its_bytes(cluster, api, token, qcow2_image):
    volume = create_volume(api, token, size=1, imageRef=qcow2_image, name="from-image")
    assert volume["bootable"] == "true"
    assert volume["volume_image_metadata"]["image_id"] == qcow2_image
    path = volume_file(cluster, volume["id"])
    assert os.path.getsize(path) == 1024**3
    with open(path, "rb") as handle:
        handle.seek(1024 * 1024)
        assert handle.read(len(MARK)) == MARK
    status, doc = call("POST", f"{api}/volumes", token,
                       {"volume": {"size": 1, "imageRef": "0" * 8 + "-0000-0000-0000-" + "0" * 12}})
    assert status in (400, 404), doc


@pytest.mark.skipif(not shutil.which("qemu-io"), reason="qemu-io (qemu-utils) is missing")
def test_attachment_exports_the_volume_over_nbd(cluster, api, token):
    volume = create_volume(api, token, size=1, name="exported")
    status, doc = call("POST", f"{api}/attachments", token, {"attachment": {
        "volume_uuid": volume["id"], "instance_uuid": "not-a-server",
        "connector": {"host": "tester", "mountpoint": "/dev/vdb"}}})
    assert status == 200, doc
    attachment = doc["attachment"]
    data = attachment["connection_info"]["data"]
    url = f"nbd://{data['host']}:{data['port']}/{data['name']}"
    try:
        written = subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 4096 4096",
                                  url], capture_output=True, text=True, timeout=60)
        assert written.returncode == 0, written.stderr
        status, doc = call("POST", f"{api}/attachments/{attachment['id']}/action", token,
                           {"os-complete": None})
        assert status == 204
        status, doc = call("GET", f"{api}/volumes/{volume['id']}", token)
        assert doc["volume"]["status"] == "in-use"
        assert call("DELETE", f"{api}/volumes/{volume['id']}", token)[0] == 409
    finally:
        status, doc = call("DELETE", f"{api}/attachments/{attachment['id']}", token)
    assert status == 200
    assert wait_status(api, token, "volume", volume["id"])["attachments"] == []
    with open(volume_file(cluster, volume["id"]), "rb") as handle:
        handle.seek(4096)
        assert handle.read(4096) == b"\x5a" * 4096
    refused = subprocess.run(["qemu-io", "-f", "raw", "-c", "read 0 512", url],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0  # the export ended with the attachment


def test_backup_restores_the_same_bytes(cluster, api, token):
    volume = create_volume(api, token, size=1, name="backed-up")
    path = volume_file(cluster, volume["id"])
    with open(path, "r+b") as handle:
        for offset in (0, 5 * 1024 * 1024 + 17, 700 * 1024 * 1024):
            handle.seek(offset)
            handle.write(os.urandom(100_000))
    original = sha256(path)
    status, doc = call("POST", f"{api}/backups", token, {"backup": {
        "volume_id": volume["id"], "name": "b1"}})
    assert status == 202, doc
    backup = wait_status(api, token, "backup", doc["backup"]["id"])
    assert backup["container"] == "volumebackups_test" and backup["object_count"] >= 2
    assert wait_status(api, token, "volume", volume["id"])["status"] == "available"
    # into a new volume
    status, doc = call("POST", f"{api}/backups/{backup['id']}/restore", token,
                       {"restore": {"name": "restored"}})
    assert status == 202, doc
    restored = wait_status(api, token, "volume", doc["restore"]["volume_id"])
    assert restored["size"] == 1 and sha256(volume_file(cluster, restored["id"])) == original
    # into an existing (larger) volume: its old bytes are replaced
    target = create_volume(api, token, size=2, name="target")
    with open(volume_file(cluster, target["id"]), "r+b") as handle:
        handle.seek(1500 * 1024 * 1024)
        handle.write(b"old bytes")
    status, doc = call("POST", f"{api}/backups/{backup['id']}/restore", token,
                       {"restore": {"volume_id": target["id"]}})
    assert status == 202, doc
    wait_status(api, token, "volume", target["id"])
    target_path = volume_file(cluster, target["id"])
    assert os.path.getsize(target_path) == 2 * 1024**3
    digest = hashlib.sha256()
    with open(target_path, "rb") as handle:
        digest.update(handle.read(1024**3))
        assert not handle.read(1024**3).strip(b"\0")
    assert digest.hexdigest() == original
    # a smaller target is refused; the backup goes, with its objects
    small = create_volume(api, token, size=1, name="small")
    assert call("PUT", f"{api}/volumes/{small['id']}", token,
                {"volume": {"name": "still-small"}})[0] == 200
    status, doc = call("DELETE", f"{api}/backups/{backup['id']}", token)
    assert status == 202
    wait_until(lambda: call("GET", f"{api}/backups/{backup['id']}", token)[0] == 404,
               timeout=60, message="backup deleted")


def boot(cluster, token, **spec):
    status, doc = call("POST", f"{cluster.compute_url}/v2.1/servers", token, {"server": {
        "name": "vol-srv", "flavorRef": "1", **spec}})
    assert status == 202, doc
    server_id = doc["server"]["id"]

    def active():
        doc = call("GET", f"{cluster.compute_url}/v2.1/servers/{server_id}", token)[1]
        assert doc["server"]["status"] != "ERROR", doc
        return doc["server"]["status"] == "ACTIVE"

    wait_until(active, timeout=120, interval=0.3, message="server ACTIVE")
    return server_id


def test_compute_attaches_and_detaches(cluster, api, token, qcow2_image):
    server = boot(cluster, token, imageRef=qcow2_image)
    volume = create_volume(api, token, size=1, name="attached")
    base = f"{cluster.compute_url}/v2.1/servers/{server}/os-volume_attachments"
    status, doc = call("POST", base, token, {"volumeAttachment": {"volumeId": volume["id"]}})
    assert status == 200, doc
    assert doc["volumeAttachment"]["device"] == "/dev/vdb"
    current = wait_status(api, token, "volume", volume["id"], "in-use")
    assert current["attachments"][0]["server_id"] == server
    assert call("POST", base, token, {"volumeAttachment": {"volumeId": volume["id"]}})[0] \
        == 409
    assert call("DELETE", f"{api}/volumes/{volume['id']}", token)[0] == 409
    status, doc = call("GET", base, token)
    assert [a["volumeId"] for a in doc["volumeAttachments"]] == [volume["id"]]
    assert call("POST", base, token, {"volumeAttachment": {"volumeId": "nope"}})[0] == 400
    assert call("DELETE", f"{base}/{volume['id']}", token)[0] == 202
    assert wait_status(api, token, "volume", volume["id"])["attachments"] == []
    assert call("GET", base, token)[1]["volumeAttachments"] == []
    assert call("DELETE", f"{cluster.compute_url}/v2.1/servers/{server}", token)[0] == 204


def test_boot_from_volume(cluster, api, token, qcow2_image):
    server = boot(cluster, token, imageRef="", block_device_mapping_v2=[{
        "boot_index": 0, "uuid": qcow2_image, "source_type": "image",
        "destination_type": "volume", "volume_size": 1, "delete_on_termination": True}])
    doc = call("GET", f"{cluster.compute_url}/v2.1/servers/{server}", token)[1]["server"]
    assert doc["image"] == ""
    [attached] = doc["os-extended-volumes:volumes_attached"]
    volume = wait_status(api, token, "volume", attached["id"], "in-use")
    assert volume["bootable"] == "true"
    base = f"{cluster.compute_url}/v2.1/servers/{server}/os-volume_attachments"
    assert call("DELETE", f"{base}/{attached['id']}", token)[0] == 400  # the root disk
    assert call("DELETE", f"{cluster.compute_url}/v2.1/servers/{server}", token)[0] == 204
    wait_until(lambda: call("GET", f"{api}/volumes/{attached['id']}", token)[0] == 404,
               timeout=60, message="boot volume deleted on termination")
    status, doc = call("POST", f"{cluster.compute_url}/v2.1/servers", token, {"server": {
        "name": "bad", "flavorRef": "1", "block_device_mapping_v2": [{
            "boot_index": 0, "uuid": qcow2_image, "source_type": "image",
            "destination_type": "volume"}]}})
    assert status == 400, doc
