"""Storage policies on the storage servers: the container keeps its policy, the object server
files each policy's objects in its own directory."""
from __future__ import annotations

import pytest

from common.http_errors import HTTPError
from storage.databases.account_server import make_app as make_account_app
from storage.databases.container_policy import policy_update, requested_policy, stored_policy
from storage.databases.container_server import make_app as make_container_app
from storage.objects.server import make_app as make_object_app
from tests.storage.conftest import ObjectEnv, write_object_conf
from tests.storage.test_container_server import Client, write_confs

INDEX = "X-Backend-Storage-Policy-Index"
DEFAULT = "X-Backend-Storage-Policy-Default"
POLICIES = "[storage-policy:0]\nname = gold\ndefault = true\n[storage-policy:1]\nname = silver\n"


def test_policy_update_rules():
    assert requested_policy({}) == (None, 0)
    assert requested_policy({INDEX: "1", DEFAULT: "0"}) == (1, 0)
    with pytest.raises(HTTPError):
        requested_policy({INDEX: "one"})
    assert policy_update({DEFAULT: "1"}, None, False, "t1") == {INDEX: ("1", "t1")}
    stored = {INDEX: ("1", "t1")}
    assert stored_policy(stored) == 1 and stored_policy({}) == 0
    assert policy_update({INDEX: "1"}, stored, True, "t2") == {}
    assert policy_update({DEFAULT: "0"}, stored, True, "t2") == {}
    with pytest.raises(HTTPError) as caught:
        policy_update({INDEX: "0"}, stored, True, "t2")
    assert caught.value.status == 409
    assert policy_update({INDEX: "0"}, stored, False, "t2") == {INDEX: ("0", "t2")}


@pytest.fixture
def containers(tmp_path):
    conf_path, _ = write_confs(tmp_path, "container")
    return Client(make_container_app(conf_path))


def test_container_keeps_its_policy(containers):
    assert containers.put_container(**{INDEX: "1"}).status_int == 201
    assert containers("HEAD", "/sda/1/AUTH_a/c").headers[INDEX] == "1"
    assert containers.put_container(**{DEFAULT: "0"}).status_int == 202
    assert containers.put_container(**{INDEX: "0"}).status_int == 409
    assert containers("HEAD", "/sda/1/AUTH_a/c").headers[INDEX] == "1"
    assert containers.put_container(**{INDEX: "x"}).status_int == 400
    assert containers.put_container("/sda/1/AUTH_a/d", **{DEFAULT: "1"}).status_int == 201
    assert containers("GET", "/sda/1/AUTH_a/d").headers[INDEX] == "1"
    # deleted, then created again: it may take another policy
    assert containers("DELETE", "/sda/1/AUTH_a/c",
                      {"X-Timestamp": containers.ts()}).status_int == 204
    assert containers.put_container(**{INDEX: "0"}).status_int == 201
    assert containers("HEAD", "/sda/1/AUTH_a/c").headers[INDEX] == "0"


@pytest.fixture
def object_env(tmp_path) -> ObjectEnv:
    conf_dir, devices, conf_path = write_object_conf(tmp_path)
    with open(f"{conf_dir}/brume.conf", "a", encoding="utf-8") as handle:
        handle.write(POLICIES)
    return ObjectEnv(make_object_app(conf_path), devices, conf_dir, conf_path)


def test_objects_go_to_their_policy_directory(object_env):
    assert object_env.put(headers={INDEX: "1"}, body=b"silver").status_int == 201
    assert object_env.put("/sda/1/a/c/p", body=b"gold").status_int == 201
    files = object_env.files()
    assert any(f.startswith("objects-1/1/") and f.endswith(".data") for f in files)
    assert any(f.startswith("objects/1/") and f.endswith(".data") for f in files)
    assert object_env.request("/sda/1/a/c/o", headers={INDEX: "1"}).body == b"silver"
    assert object_env.request("/sda/1/a/c/o").status_int == 404  # not in policy 0
    assert object_env.request("/sda/1/a/c/p", headers={INDEX: "1"}).status_int == 404
    before = object_env.files()
    assert object_env.put(headers={INDEX: "5"}).status_int == 400
    assert object_env.put(headers={INDEX: "abc"}).status_int == 400
    assert object_env.files() == before


@pytest.fixture
def accounts(tmp_path):
    conf_path, _ = write_confs(tmp_path, "account")
    with open(tmp_path / "conf" / "brume.conf", "a", encoding="utf-8") as handle:
        handle.write(POLICIES)
    return Client(make_account_app(conf_path))


def report(accounts, container, objects, used, index=None, deleted=False):
    headers = {"X-Put-Timestamp": accounts.ts(), "X-Object-Count": str(objects),
               "X-Bytes-Used": str(used), "X-Timestamp": accounts.ts()}
    if deleted:
        headers["X-Delete-Timestamp"] = accounts.ts()
    if index is not None:
        headers[INDEX] = index
    return accounts("PUT", f"/sda/1/AUTH_a/{container}", headers)


def test_account_stats_per_policy(accounts):
    assert report(accounts, "g1", 2, 20).status_int == 201
    assert report(accounts, "g2", 1, 5, "0").status_int == 201
    assert report(accounts, "s1", 3, 300, "1").status_int == 201
    assert report(accounts, "s2", 9, 900, "1", deleted=True).status_int == 201
    for method in ("HEAD", "GET"):
        headers = accounts(method, "/sda/1/AUTH_a").headers
        assert headers["X-Account-Storage-Policy-Gold-Container-Count"] == "2"
        assert headers["X-Account-Storage-Policy-Gold-Object-Count"] == "3"
        assert headers["X-Account-Storage-Policy-Gold-Bytes-Used"] == "25"
        assert headers["X-Account-Storage-Policy-Silver-Container-Count"] == "1"
        assert headers["X-Account-Storage-Policy-Silver-Object-Count"] == "3"
        assert headers["X-Account-Storage-Policy-Silver-Bytes-Used"] == "300"
        assert headers["X-Account-Bytes-Used"] == "325"
    assert report(accounts, "bad", 1, 1, "x").status_int == 400


def test_old_account_database_gets_the_policy_column(accounts, tmp_path):
    import sqlite3

    from storage.databases import account_db

    assert report(accounts, "g1", 1, 1).status_int == 201
    (path,) = [str(p) for p in (tmp_path / "devices").rglob("*.db")]
    accounts.app.connections.close(path)
    account_db._POLICY_COLUMN_CHECKED.discard(path)
    conn = sqlite3.connect(path)
    conn.execute("ALTER TABLE container DROP COLUMN storage_policy_index")
    conn.commit()
    conn.close()
    assert report(accounts, "s1", 2, 2, "1").status_int == 201
    headers = accounts("HEAD", "/sda/1/AUTH_a").headers
    assert headers["X-Account-Storage-Policy-Gold-Object-Count"] == "1"
    assert headers["X-Account-Storage-Policy-Silver-Object-Count"] == "2"
