"""In-process tests of the account server (webob requests against make_app, real SQLite)."""
from __future__ import annotations

import json
import os
from xml.etree import ElementTree

import pytest

from common.timestamp import Timestamp
from storage.databases.account_server import make_app
from tests.storage.test_container_server import Client, write_confs


@pytest.fixture
def client(tmp_path):
    conf_path, _ = write_confs(tmp_path, "account")
    return Client(make_app(conf_path))


def report(client, container, put, delete="0", count=0, used=0, path="/sda/1/AUTH_a"):
    return client("PUT", f"{path}/{container}", {
        "X-Put-Timestamp": put, "X-Delete-Timestamp": delete, "X-Object-Count": str(count),
        "X-Bytes-Used": str(used), "X-Timestamp": client.ts()})


def test_missing_account_is_404_until_put(client):
    assert client("HEAD", "/sda/1/AUTH_a").status_int == 404
    assert client("GET", "/sda/1/AUTH_a").status_int == 404
    assert client("PUT", "/sda/1/AUTH_a", {"X-Timestamp": client.ts()}).status_int == 201
    assert client("PUT", "/sda/1/AUTH_a", {"X-Timestamp": client.ts()}).status_int == 202
    resp = client("HEAD", "/sda/1/AUTH_a")
    assert resp.status_int == 204
    assert resp.headers["X-Account-Container-Count"] == "0"
    assert resp.headers["X-Account-Object-Count"] == "0"
    assert resp.headers["X-Account-Bytes-Used"] == "0"
    assert client("GET", "/sda/1/AUTH_a").status_int == 204


def test_container_reports_create_account_and_sum(client):
    assert report(client, "c1", client.ts(), count=3, used=30).status_int == 201
    assert report(client, "c2", client.ts(), count=2, used=5).status_int == 201
    head = client("HEAD", "/sda/1/AUTH_a")
    assert head.headers["X-Account-Container-Count"] == "2"
    assert head.headers["X-Account-Object-Count"] == "5"
    assert head.headers["X-Account-Bytes-Used"] == "35"
    listing = json.loads(client("GET", "/sda/1/AUTH_a?format=json").body)
    assert [c["name"] for c in listing] == ["c1", "c2"]
    assert set(listing[0]) == {"name", "count", "bytes", "last_modified", "storage_policy"}
    assert listing[0]["count"] == 3 and listing[0]["bytes"] == 30
    # the container is deleted: it leaves the listing and the totals
    put = listing[1]["last_modified"]
    assert put.startswith("20")
    report(client, "c2", Timestamp(1_000).normal, delete=client.ts())
    head = client("HEAD", "/sda/1/AUTH_a")
    assert head.headers["X-Account-Container-Count"] == "1"
    assert head.headers["X-Account-Bytes-Used"] == "30"
    assert client("GET", "/sda/1/AUTH_a").body == b"c1\n"


def test_bad_reports_change_nothing(client):
    client("PUT", "/sda/1/AUTH_a", {"X-Timestamp": client.ts()})
    base = {"X-Put-Timestamp": client.ts(), "X-Object-Count": "1", "X-Bytes-Used": "1"}
    assert client("PUT", "/sda/1/AUTH_a/c", {}).status_int == 400
    assert client("PUT", "/sda/1/AUTH_a/c", {**base, "X-Object-Count": "many"}).status_int == 400
    assert client("PUT", "/sda/1/AUTH_a/c", {**base, "X-Bytes-Used": "-4"}).status_int == 400
    assert client("PUT", "/sda/1/AUTH_a/c", {**base, "X-Delete-Timestamp": "x"}).status_int == 400
    assert client("PUT", "/sda/1/AUTH_a/a%2Fb", base).status_int == 400
    assert client("HEAD", "/sda/1/AUTH_a").headers["X-Account-Container-Count"] == "0"
    assert client("PUT", "/sda/1/AUTH_b/c", {}).status_int == 400
    assert client("HEAD", "/sda/1/AUTH_b").status_int == 404


def test_listing_formats_and_params(client):
    for name in ("a-1", "a-2", "b", "c"):
        assert report(client, name, client.ts(), count=1, used=2).status_int == 201
    resp = client("GET", "/sda/1/AUTH_a?format=xml&delimiter=-")
    assert resp.content_type == "application/xml"
    assert resp.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<account name="AUTH_a">')
    root = ElementTree.fromstring(resp.body)
    assert root[0].tag == "subdir" and root[0].get("name") == "a-"
    assert [child.tag for child in root[1]] == ["name", "count", "bytes", "last_modified",
                                                "storage_policy"]
    resp = client("GET", "/sda/1/AUTH_a?delimiter=-", headers={"Accept": "application/json"})
    assert json.loads(resp.body)[0] == {"subdir": "a-"}
    assert client("GET", "/sda/1/AUTH_a?limit=2&reverse=true").body == b"c\nb\n"
    assert client("GET", "/sda/1/AUTH_a?marker=a-2&end_marker=c").body == b"b\n"
    assert client("GET", "/sda/1/AUTH_a?prefix=a-").body == b"a-1\na-2\n"
    assert client("GET", "/sda/1/AUTH_a?limit=10001").status_int == 412
    assert client("GET", "/sda/1/AUTH_a?limit=-2").status_int == 200  # ignored, as Swift
    assert client("GET", "/sda/1/AUTH_a/c").status_int == 400


def test_metadata_post_and_limits(client):
    client("PUT", "/sda/1/AUTH_a", {"X-Timestamp": client.ts(), "X-Account-Meta-Team": "blue"})
    resp = client("POST", "/sda/1/AUTH_a", {"X-Timestamp": client.ts(),
                                            "X-Account-Meta-Quota": "10"})
    assert resp.status_int == 204
    head = client("HEAD", "/sda/1/AUTH_a")
    assert head.headers["X-Account-Meta-Team"] == "blue"
    assert head.headers["X-Account-Meta-Quota"] == "10"
    client("POST", "/sda/1/AUTH_a", {"X-Timestamp": client.ts(), "X-Account-Meta-Team": ""})
    assert "X-Account-Meta-Team" not in client("HEAD", "/sda/1/AUTH_a").headers
    bad = {"X-Timestamp": client.ts(), "X-Account-Meta-Big": "v" * 257}
    assert client("POST", "/sda/1/AUTH_a", bad).status_int == 400
    assert "X-Account-Meta-Big" not in client("HEAD", "/sda/1/AUTH_a").headers
    assert client("POST", "/sda/1/AUTH_x", {"X-Timestamp": client.ts()}).status_int == 404
    assert client("POST", "/sda/1/AUTH_a", {}).status_int == 400


def test_delete_marks_deleted(client, tmp_path):
    assert client("DELETE", "/sda/1/AUTH_a", {"X-Timestamp": client.ts()}).status_int == 404
    client("PUT", "/sda/1/AUTH_a", {"X-Timestamp": client.ts()})
    stale = {"X-Timestamp": Timestamp(1_000).normal}
    assert client("DELETE", "/sda/1/AUTH_a", stale).status_int == 409
    assert client("DELETE", "/sda/1/AUTH_a", {"X-Timestamp": client.ts()}).status_int == 204
    head = client("HEAD", "/sda/1/AUTH_a")
    assert head.status_int == 404 and "X-Backend-Delete-Timestamp" in head.headers
    assert report(client, "c", client.ts()).status_int == 404
    assert client("PUT", "/sda/1/AUTH_a", {"X-Timestamp": client.ts()}).status_int == 201
    assert client("HEAD", "/sda/1/AUTH_a").status_int == 204
    dbs = [f for _, _, fs in os.walk(tmp_path / "devices" / "sda" / "accounts") for f in fs
           if f.endswith(".db")]
    assert len(dbs) == 1


def test_device_and_path_errors(client):
    assert client("PUT", "/sdz/1/AUTH_a", {"X-Timestamp": client.ts()}).status_int == 507
    assert client("HEAD", "/sda/1").status_int == 400
    assert client("HEAD", "/sda/one/AUTH_a").status_int == 400
    assert client("PUT", "/sda/1/AUTH_a", {"X-Timestamp": "never"}).status_int == 400
    assert client("PATCH", "/sda/1/AUTH_a").status_int == 405


def test_sample_config_is_valid(tmp_path):
    sample = os.path.join(os.path.dirname(__file__), "..", "..", "etc", "account-server.conf")
    text = open(sample).read()
    assert "app = storage.databases.account_server:make_app" in text and "bind_port = 6202" in text
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir()
    (conf_dir / "brume.conf").write_text("[cluster]\nhash_path_prefix = p\nhash_path_suffix = s\n")
    path = tmp_path / "a.conf"
    path.write_text(text.replace("/etc/brume", str(conf_dir)))
    assert make_app(str(path)).devices == "/srv/node"
