"""Storage policies and account ACLs on the session's all-in-one cluster (gold: policy 0,
3 replicas, the default; silver: policy 1, 2 replicas), through swiftclient as a user would."""
from __future__ import annotations

import json
import os
import urllib.request

import pytest
from swiftclient import client as swift
from swiftclient.exceptions import ClientException

from tests.integration.support import wait_until

pytestmark = pytest.mark.cluster


def status_of(call, *args, **kwargs) -> int:
    with pytest.raises(ClientException) as caught:
        call(*args, **kwargs)
    return caught.value.http_status


def data_files(cluster, objects_dir: str, digest: str) -> list[str]:
    """Every .data file of object `digest` under `objects_dir` on every device."""
    found = []
    for node in cluster.layout.nodes:
        root = cluster.layout.devices_root(node)
        for dirpath, _dirs, names in os.walk(root):
            parts = dirpath.split(os.sep)
            if objects_dir in parts and dirpath.endswith(digest):
                found.extend(os.path.join(dirpath, n) for n in names if n.endswith(".data"))
    return found


def test_info_lists_both_policies_and_account_acls(cluster):
    with urllib.request.urlopen(cluster.proxy_url + "/info", timeout=30) as resp:
        info = json.load(resp)
    assert [(p["name"], p.get("default", False)) for p in info["swift"]["policies"]] == [
        ("gold", True), ("silver", False)]
    assert info["tempauth"]["account_acls"] is True


def test_container_policy_choice_and_placement(cluster, conn, name):
    silver, plain = name("silver"), name("plain")
    conn.put_container(silver, headers={"X-Storage-Policy": "silver"})
    conn.put_container(plain)
    assert conn.head_container(silver)["x-storage-policy"] == "silver"
    assert conn.head_container(plain)["x-storage-policy"] == "gold"
    assert status_of(conn.put_container, name("bad"), headers={"X-Storage-Policy": "bronze"}) \
        == 400
    assert status_of(conn.put_container, silver, headers={"X-Storage-Policy": "gold"}) == 409
    conn.post_container(silver, headers={"X-Storage-Policy": "gold"})  # ignored, as in Swift
    assert conn.head_container(silver)["x-storage-policy"] == "silver"

    conn.put_object(silver, "o", b"two copies")
    conn.put_object(plain, "o", b"three copies")
    account = conn.url.rstrip("/").rsplit("/", 1)[1]
    silver_hash = cluster.hasher().hash_path(account, silver, "o")
    plain_hash = cluster.hasher().hash_path(account, plain, "o")
    assert len(data_files(cluster, "objects-1", silver_hash)) == 2
    assert data_files(cluster, "objects", silver_hash) == []
    assert len(data_files(cluster, "objects", plain_hash)) == 3
    assert conn.get_object(silver, "o")[1] == b"two copies"
    conn.delete_object(silver, "o")
    assert status_of(conn.get_object, silver, "o") == 404


def readable_by(conn3, container: str) -> bool:
    """Whether tester3 may read the object yet: an account replica that missed the POST (a
    slow node under load: the proxy wrote a handoff) may answer first until replication."""
    try:
        return conn3.get_object(container, "doc")[1] == b"secret"
    except ClientException as exc:
        assert exc.http_status == 403
        return False


def writable_by(conn3, container: str) -> bool:
    try:
        conn3.put_object(container, "new", b"x")
    except ClientException as exc:
        assert exc.http_status == 403
        return False
    return True


def account_denied(conn3) -> bool:
    try:
        conn3.get_account()
    except ClientException as exc:
        return exc.http_status == 403
    return False


def test_account_acl_levels(conn, conn2, conn3, name):
    container = name("accacl")
    conn.put_container(container)
    conn.put_object(container, "doc", b"secret")
    try:
        assert status_of(conn3.get_account) == 403
        assert status_of(conn.post_account, {"X-Account-Access-Control": "yuck"}) == 400
        conn.post_account({"X-Account-Access-Control": json.dumps(
            {"read-only": ["test:tester3"]})})
        wait_until(lambda: readable_by(conn3, container), timeout=60, what="the read grant")
        assert "x-account-access-control" not in conn3.head_account()
        assert status_of(conn3.put_object, container, "new", b"x") == 403
        conn.post_account({"X-Account-Access-Control": json.dumps(
            {"read-write": ["test:tester3"]})})
        wait_until(lambda: writable_by(conn3, container), timeout=60, what="the write grant")
        assert status_of(conn3.post_account, {"X-Account-Meta-A": "1"}) == 403
        conn.post_account({"X-Account-Access-Control": json.dumps({"admin": ["test2"]})})
        # test2's users administer account test now, and see its ACL
        def admin_view():
            try:
                return swift.head_account(conn.url, conn2.get_auth()[1])
            except ClientException as exc:
                assert exc.http_status == 403
                return None

        headers = wait_until(admin_view, timeout=60, what="the admin grant")
        assert json.loads(headers["x-account-access-control"]) == {"admin": ["test2"]}
        wait_until(lambda: account_denied(conn3), timeout=60, what="tester3's grant revoked")
    finally:
        conn.post_account({"X-Account-Access-Control": "{}"})
    assert "x-account-access-control" not in conn.head_account()
