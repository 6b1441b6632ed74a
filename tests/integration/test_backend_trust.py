"""Backend trust on the real cluster: storage servers serve only requests signed with the
cluster's backend secret.

Someone who can reach a storage node but does not hold the secret sends SYNC, PUT, DELETE,
REPLICATE and POST straight to the object, container and account servers of a real object,
container and account: every one gets 401 and nothing changes (files on disk, listings and
the object's bytes through the proxy). A wrong secret and a stale signature fare the same.
Signed requests with a partition Python's int() would take ('١٢', ' 12', '1_0') get 400.
"""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import time
import urllib.parse
import uuid

import msgpack
import pytest

from common.backend_auth import BackendAuth
from common.timestamp import Timestamp
from storage.replication.object_protocol import METADATA_LENGTH_HEADER, REPLICATION_HEADER
from storage.replication.wire import OP_HEADER

pytestmark = pytest.mark.cluster

ACCOUNT = "AUTH_test2"  # the victim; the attacker holds no credential at all
BAD_PARTITIONS = ["\u0661\u0662", " 12", "1_0", "012"]


@pytest.fixture(scope="module")
def victim(cluster):
    """A container and an object of test2:tester2, with where their replicas live."""
    token, url = cluster.auth("test2:tester2")
    container, name = f"trust-{uuid.uuid4().hex[:8]}", "precious"
    body = b"the real bytes " * 100
    assert proxy_request("PUT", f"{url}/{container}", token)[0] in (201, 202)
    assert proxy_request("PUT", f"{url}/{container}/{name}", token, body=body)[0] == 201
    yield {"token": token, "url": url, "container": container, "name": name, "body": body}
    proxy_request("DELETE", f"{url}/{container}/{name}", token)
    proxy_request("DELETE", f"{url}/{container}", token)


def proxy_request(method, url, token, body=None):
    """(status, headers, body) of one request to the proxy as the victim."""
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        conn.request(method, target, body=body, headers={"X-Auth-Token": token})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def nodes_of(cluster, ring_name, *names):
    part, devs = cluster.ring(ring_name).get_nodes(ACCOUNT, *names)
    return part, devs


def object_files(cluster, victim) -> dict[str, list[str]]:
    found = {}
    for location in cluster.object_paths(ACCOUNT, victim["container"], victim["name"]):
        try:
            found[location.hash_dir] = sorted(os.listdir(location.hash_dir))
        except FileNotFoundError:
            found[location.hash_dir] = []
    return found


def visible_state(cluster, victim) -> tuple:
    """What a user and the disks show: the object's bytes, the listings, the files."""
    token, url = victim["token"], victim["url"]
    status, _h, body = proxy_request("GET", f"{url}/{victim['container']}/{victim['name']}",
                                     token)
    listing = proxy_request("GET", f"{url}/{victim['container']}?format=json", token)[2]
    account = proxy_request("GET", f"{url}?format=json", token)[2]
    names = sorted(entry["name"] for entry in json.loads(listing))
    containers = sorted(entry["name"] for entry in json.loads(account))
    return status, hashlib.md5(body).hexdigest(), names, containers, object_files(cluster,
                                                                                  victim)


def forged_sync(victim, part, dev) -> tuple[str, dict, bytes]:
    """A replication push that would replace the victim's object with other bytes."""
    evil = b"attacker's bytes"
    stamp = Timestamp(time.time() + 3600)
    metadata = msgpack.packb({
        "name": f"/{ACCOUNT}/{victim['container']}/{victim['name']}",
        "X-Timestamp": stamp.normal, "Content-Length": str(len(evil)),
        "ETag": hashlib.md5(evil).hexdigest(), "Content-Type": "text/plain",
    }, use_bin_type=True)
    return (f"/{dev['device']}/{part}/{victim['hash']}/{stamp.normal}.data",
            {REPLICATION_HEADER: "true", METADATA_LENGTH_HEADER: str(len(metadata))},
            metadata + evil)


def attacks(cluster, victim):
    """(label, ip, port, method, path, headers, body) against every kind of server."""
    container, name = victim["container"], victim["name"]
    stamp = Timestamp(time.time() + 3600).normal
    opart, odevs = nodes_of(cluster, "object", container, name)
    cpart, cdevs = nodes_of(cluster, "container", container)
    apart, adevs = nodes_of(cluster, "account")
    victim["hash"] = cluster.hasher().hash_path(ACCOUNT, container, name)
    found = []
    for dev in odevs:
        obj = f"/{dev['device']}/{opart}/{ACCOUNT}/{container}/{name}"
        sync_path, sync_headers, sync_body = forged_sync(victim, opart, dev)
        found += [
            ("object SYNC", dev, "SYNC", sync_path, sync_headers, sync_body),
            ("object PUT", dev, "PUT", obj, {"X-Timestamp": stamp,
                                             "Content-Type": "text/plain"}, b"evil"),
            ("object DELETE", dev, "DELETE", obj, {"X-Timestamp": stamp}, b""),
            ("object POST", dev, "POST", obj, {"X-Timestamp": stamp,
                                               "X-Object-Meta-Owned": "yes"}, b""),
            ("object REPLICATE", dev, "REPLICATE", f"/{dev['device']}/{opart}/"
             f"{victim['hash'][-3:]}", {REPLICATION_HEADER: "true"}, b""),
            ("object GET", dev, "GET", obj, {}, b""),
            ("recon", dev, "GET", "/recon/all", {}, b""),
        ]
    for dev in cdevs:
        base = f"/{dev['device']}/{cpart}/{ACCOUNT}/{container}"
        found += [
            ("container row PUT", dev, "PUT", f"{base}/planted", {
                "X-Timestamp": stamp, "X-Size": "1", "X-Content-Type": "text/plain",
                "X-Etag": "d41d8cd98f00b204e9800998ecf8427e"}, b""),
            ("container row DELETE", dev, "DELETE", f"{base}/{name}", {"X-Timestamp": stamp},
             b""),
            ("container DELETE", dev, "DELETE", base, {"X-Timestamp": stamp}, b""),
            ("container REPLICATE", dev, "REPLICATE",
             f"/{dev['device']}/{cpart}/{cluster.hasher().hash_path(ACCOUNT, container)}",
             {REPLICATION_HEADER: "true", OP_HEADER: "sync"}, b"\x80"),
            ("container GET", dev, "GET", f"{base}?format=json", {}, b""),
        ]
    for dev in adevs:
        base = f"/{dev['device']}/{apart}/{ACCOUNT}"
        found += [
            ("account row PUT", dev, "PUT", f"{base}/planted", {
                "X-Put-Timestamp": stamp, "X-Delete-Timestamp": "0", "X-Object-Count": "0",
                "X-Bytes-Used": "0", "X-Timestamp": stamp}, b""),
            ("account DELETE", dev, "DELETE", base, {"X-Timestamp": stamp}, b""),
            ("account REPLICATE", dev, "REPLICATE",
             f"/{dev['device']}/{apart}/{cluster.hasher().hash_path(ACCOUNT)}",
             {REPLICATION_HEADER: "true", OP_HEADER: "sync"}, b"\x80"),
            ("account GET", dev, "GET", f"{base}?format=json", {}, b""),
        ]
    return found


@pytest.mark.parametrize("signature", ["unsigned", "wrong secret", "expired", "future"])
def test_requests_without_a_valid_signature_get_401_and_change_nothing(cluster, victim,
                                                                       signature):
    before = visible_state(cluster, victim)
    assert before[0] == 200 and before[2] == [victim["name"]]
    auth = {"unsigned": False, "wrong secret": BackendAuth("not-the-cluster-secret")}.get(
        signature, True)
    now = {"expired": time.time() - 3600, "future": time.time() + 3600}.get(signature)
    for label, dev, method, path, headers, body in attacks(cluster, victim):
        status, _headers, answer = cluster.storage_request(
            dev["ip"], dev["port"], method, path, headers, body, auth=auth, now=now)
        assert status == 401, (label, status, answer)
        assert answer.startswith(b"unauthorized backend request: ")
        assert b"\n" not in answer.rstrip(b"\n")
    assert visible_state(cluster, victim) == before


def test_the_same_requests_signed_are_served(cluster, victim):
    """The refusals above are about the signature only: signed, the reads are answered."""
    container, name = victim["container"], victim["name"]
    opart, odevs = nodes_of(cluster, "object", container, name)
    for dev in odevs:
        status, _h, body = cluster.storage_request(
            dev["ip"], dev["port"], "GET",
            f"/{dev['device']}/{opart}/{ACCOUNT}/{container}/{name}")
        assert status == 200 and body == victim["body"]
        status, _h, body = cluster.storage_request(dev["ip"], dev["port"], "GET", "/recon/all")
        assert status == 200 and "diskusage" in json.loads(body)


def test_healthcheck_needs_no_signature(cluster):
    for node in cluster.layout.nodes:
        for kind in ("object", "container", "account"):
            ip, port = cluster.storage_address(node, kind)
            assert cluster.storage_request(ip, port, "GET", "/healthcheck", auth=False)[:3:2] \
                == (200, b"OK")


@pytest.mark.parametrize("part", BAD_PARTITIONS)
def test_signed_requests_with_a_non_ascii_or_non_canonical_partition_get_400(cluster, part):
    ip, port = cluster.storage_address(1, "object")
    device = cluster.layout.device_name(1)
    digest = "a" * 32
    stamp = Timestamp.now().normal
    for method, path, headers in (
        ("REPLICATE", f"/{device}/{part}", {REPLICATION_HEADER: "true"}),
        ("REPLICATE", f"/{device}/{part}/abc", {REPLICATION_HEADER: "true"}),
        ("SYNC", f"/{device}/{part}/{digest}/{stamp}.data",
         {REPLICATION_HEADER: "true", METADATA_LENGTH_HEADER: "1"}),
        ("PUT", f"/{device}/{part}/{ACCOUNT}/c/o", {"X-Timestamp": stamp}),
    ):
        status, _h, body = cluster.storage_request(ip, port, method, path, headers, b"x")
        assert status == 400, (method, path, status, body)
    for kind in ("container", "account"):
        ip, port = cluster.storage_address(1, kind)
        status, _h, _b = cluster.storage_request(
            ip, port, "REPLICATE", f"/{device}/{part}/{digest}",
            {REPLICATION_HEADER: "true", OP_HEADER: "sync"}, b"\x80")
        assert status == 400
        status, _h, _b = cluster.storage_request(
            ip, port, "PUT", f"/{device}/{part}/{ACCOUNT}/c", {"X-Timestamp": stamp})
        assert status == 400
    objects = os.path.join(cluster.layout.devices_root(1), device, "objects")
    assert not [p for p in (os.listdir(objects) if os.path.isdir(objects) else [])
                if p.strip() != p or not p.isascii() or (p != "0" and p.startswith("0"))]
