"""The image service on a real `brume up` cluster: big uploads through the CLI and
python-glanceclient, register-from-object, a storage node dying mid-upload, privacy between
projects, and bad input that changes nothing."""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import re
import subprocess
import urllib.parse

import pytest

from tests.integration.support import brume

pytestmark = pytest.mark.cluster
MIB = 1024 * 1024


def random_file(path, size: int) -> tuple[str, str]:
    """Write `size` random-ish bytes; returns (md5, sha512) hex digests."""
    md5, sha512 = hashlib.md5(), hashlib.sha512()
    block = os.urandom(4 * MIB)
    with open(path, "wb") as handle:
        left, turn = size, 0
        while left:
            piece = block[turn % 4096:][: min(left, 4 * MIB - 4096)]
            handle.write(piece)
            md5.update(piece)
            sha512.update(piece)
            left -= len(piece)
            turn += 1
    return md5.hexdigest(), sha512.hexdigest()


def file_md5(path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        while chunk := handle.read(MIB):
            digest.update(chunk)
    return digest.hexdigest()


def cli(cluster, *args, user="test:tester"):
    return brume("image", *args, "--auth-url", cluster.auth_url, "--user", user,
                 "--key", cluster.credentials[user], "--image-url", cluster.image_url,
                 timeout=600, check=False)


def api(cluster, method, path, user="test:tester", body=None, content_type=None,
        token=None):
    parts = urllib.parse.urlsplit(cluster.image_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    headers = {"X-Auth-Token": token or cluster.token(user)}
    if body is not None:
        if not isinstance(body, bytes):
            body = json.dumps(body).encode()
        headers["Content-Type"] = content_type or "application/json"
    conn.request(method, path, body=body, headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, (json.loads(data) if data and response.getheader(
        "Content-Type", "").startswith("application/json") else data)


def test_300_mib_image_through_the_cli(cluster, tmp_path):
    source = tmp_path / "big.raw"
    md5, sha512 = random_file(source, 300 * MIB)
    result = cli(cluster, "upload", str(source), "--name", "big-cli", "--disk-format", "raw",
                 "--format", "json")
    assert result.returncode == 0, result.stderr
    image = json.loads(result.stdout)
    assert image["status"] == "active"
    assert image["size"] == 300 * MIB
    assert image["checksum"] == md5
    assert (image["os_hash_algo"], image["os_hash_value"]) == ("sha512", sha512)
    target = tmp_path / "copy.raw"
    result = cli(cluster, "download", image["id"], "--file", str(target))
    assert result.returncode == 0, result.stderr
    assert os.path.getsize(target) == 300 * MIB and file_md5(target) == md5
    assert cli(cluster, "delete", image["id"]).returncode == 0
    assert api(cluster, "GET", f"/v2/images/{image['id']}")[0] == 404


def glance(cluster, token, *args):
    return subprocess.run(
        ["glance", "--os-image-url", cluster.image_url, "--os-auth-token", token, *args],
        capture_output=True, text=True, timeout=600, preexec_fn=lambda: os.close(0),
        check=False,
    )


def test_python_glanceclient(cluster, tmp_path):
    token = cluster.token("test:tester")
    source = tmp_path / "gc.raw"
    md5, _ = random_file(source, 70 * MIB)
    created = glance(cluster, token, "image-create", "--name", "gc-image", "--disk-format",
                     "raw", "--container-format", "bare")
    assert created.returncode == 0, created.stderr
    image_id = re.search(r"\|\s*id\s*\|\s*(\S+)", created.stdout).group(1)
    uploaded = glance(cluster, token, "image-upload", "--file", str(source), image_id)
    assert uploaded.returncode == 0, uploaded.stderr
    listed = glance(cluster, token, "image-list")
    assert listed.returncode == 0 and image_id in listed.stdout
    target = tmp_path / "gc.out"
    downloaded = glance(cluster, token, "image-download", "--file", str(target), image_id)
    assert downloaded.returncode == 0, downloaded.stderr
    assert file_md5(target) == md5
    status, image = api(cluster, "GET", f"/v2/images/{image_id}")
    assert status == 200 and image["checksum"] == md5 and image["size"] == 70 * MIB


def test_register_from_object(cluster, tmp_path):
    token, storage_url = cluster.auth("test:tester")
    source = tmp_path / "obj.raw"
    md5, sha512 = random_file(source, 3 * MIB)
    parts = urllib.parse.urlsplit(storage_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request("PUT", f"{parts.path}/register-src", headers={"X-Auth-Token": token})
    assert conn.getresponse().read() is not None
    conn.request("PUT", f"{parts.path}/register-src/disk.raw", body=source.read_bytes(),
                 headers={"X-Auth-Token": token})
    assert conn.getresponse().status == 201
    conn.close()
    result = cli(cluster, "register", "--name", "from-object", "--disk-format", "raw",
                 "--from-object", "register-src/disk.raw", "--format", "json")
    assert result.returncode == 0, result.stderr
    image = json.loads(result.stdout)
    assert (image["status"], image["size"], image["checksum"]) == ("active", 3 * MIB, md5)
    assert image["os_hash_value"] == sha512
    target = tmp_path / "reg.out"
    assert cli(cluster, "download", image["id"], "--file", str(target)).returncode == 0
    assert file_md5(target) == md5
    # Another project cannot copy test's objects.
    result = cli(cluster, "register", "--name", "stolen", "--disk-format", "raw",
                 "--from-object", "register-src/disk.raw", user="test2:tester2")
    assert result.returncode == 1


def test_storage_node_killed_during_upload(cluster):
    status, image = api(cluster, "POST", "/v2/images",
                        body={"name": "survivor", "disk_format": "raw",
                              "container_format": "bare"})
    assert status == 201
    size = 150 * MIB
    block = os.urandom(MIB)
    md5 = hashlib.md5()
    parts = urllib.parse.urlsplit(cluster.image_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
    conn.putrequest("PUT", f"/v2/images/{image['id']}/file")
    conn.putheader("X-Auth-Token", cluster.token())
    conn.putheader("Content-Type", "application/octet-stream")
    conn.putheader("Content-Length", str(size))
    conn.endheaders()
    try:
        for index in range(size // MIB):
            if index == 40:
                cluster.kill_server(2, "object")
            chunk = block[index % 7:] + block[: index % 7]
            md5.update(chunk)
            conn.send(chunk)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
        cluster.start_server(2, "object")
    assert response.status == 204, body
    status, shown = api(cluster, "GET", f"/v2/images/{image['id']}")
    assert (shown["status"], shown["size"], shown["checksum"]) == (
        "active", size, md5.hexdigest()
    )


def test_private_image_needs_sharing_and_acceptance(cluster):
    status, image = api(cluster, "POST", "/v2/images",
                        body={"name": "private-one", "disk_format": "raw",
                              "container_format": "bare", "visibility": "private"})
    assert status == 201
    assert api(cluster, "PUT", f"/v2/images/{image['id']}/file", body=b"secret bytes",
               content_type="application/octet-stream")[0] == 204
    other = "test2:tester2"
    assert api(cluster, "GET", f"/v2/images/{image['id']}", user=other)[0] == 404
    assert api(cluster, "GET", f"/v2/images/{image['id']}/file", user=other)[0] == 404
    listed = api(cluster, "GET", "/v2/images", user=other)[1]["images"]
    assert image["id"] not in [i["id"] for i in listed]

    patch = [{"op": "replace", "path": "/visibility", "value": "shared"}]
    assert api(cluster, "PATCH", f"/v2/images/{image['id']}", body=patch,
               content_type="application/openstack-images-v2.1-json-patch")[0] == 200
    status, member = api(cluster, "POST", f"/v2/images/{image['id']}/members",
                         body={"member": "test2"})
    assert status == 200 and member["status"] == "pending"
    status, member = api(cluster, "PUT", f"/v2/images/{image['id']}/members/test2",
                         user=other, body={"status": "accepted"})
    assert status == 200 and member["status"] == "accepted"
    listed = api(cluster, "GET", "/v2/images", user=other)[1]["images"]
    assert image["id"] in [i["id"] for i in listed]
    status, data = api(cluster, "GET", f"/v2/images/{image['id']}/file", user=other)
    assert (status, data) == (200, b"secret bytes")


def test_bad_input_is_refused_and_changes_nothing(cluster):
    status, image = api(cluster, "POST", "/v2/images",
                        body={"name": "stable", "disk_format": "raw",
                              "container_format": "bare"})
    assert status == 201
    before = api(cluster, "GET", "/v2/images?limit=1000")[1]["images"]
    cases = [
        ("POST", "/v2/images", b"{broken", "application/json"),
        ("POST", "/v2/images", {"name": "x", "status": "active"}, None),
        ("POST", "/v2/images", {"name": "x", "size": 1}, None),
        ("POST", "/v2/images", {"name": "x", "custom": 12}, None),
        ("POST", "/v2/images", {"name": "x", "disk_format": "floppy"}, None),
        ("POST", "/v2/images", {"name": "x", "container_format": "zip"}, None),
        ("PATCH", f"/v2/images/{image['id']}",
         [{"op": "replace", "path": "/name/x", "value": "y"}], None),
        ("PATCH", f"/v2/images/{image['id']}",
         [{"op": "replace", "path": "/checksum", "value": "y"}], None),
        ("PATCH", f"/v2/images/{image['id']}", b"[{", None),
        ("PATCH", f"/v2/images/{image['id']}",
         [{"op": "replace", "path": "/disk_format", "value": "floppy"}], None),
    ]
    for method, path, body, content_type in cases:
        if method == "PATCH":
            content_type = "application/openstack-images-v2.1-json-patch"
        status, _ = api(cluster, method, path, body=body, content_type=content_type)
        assert 400 <= status < 500, (method, path, body, status)
    assert api(cluster, "GET", "/v2/images?limit=1000")[1]["images"] == before
    assert api(cluster, "GET", f"/v2/images/{image['id']}")[1] == image
    assert api(cluster, "GET", "/v2/images", token="BRM_not.valid")[0] == 401
