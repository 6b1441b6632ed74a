"""python-swiftclient's library against the all-in-one cluster: objects, containers, listings,
metadata, copies, ranges and conditional requests, end to end through the proxy."""
from __future__ import annotations

import hashlib
import os

import pytest
from swiftclient.exceptions import ClientException

from tests.integration.support import wait_until

pytestmark = pytest.mark.cluster


def status_of(call, *args, **kwargs) -> int:
    with pytest.raises(ClientException) as caught:
        call(*args, **kwargs)
    return caught.value.http_status


def test_object_put_get_head_delete(conn, name):
    container, obj = name("c"), name("o")
    body = os.urandom(100_000)
    conn.put_container(container)
    etag = conn.put_object(container, obj, body, content_type="application/x-test",
                           headers={"X-Object-Meta-Color": "blue"})
    assert etag == hashlib.md5(body).hexdigest()

    headers, got = conn.get_object(container, obj)
    assert got == body
    assert headers["etag"] == etag
    assert headers["content-type"] == "application/x-test"
    assert headers["x-object-meta-color"] == "blue"

    head = conn.head_object(container, obj)
    assert int(head["content-length"]) == len(body)
    assert head["etag"] == etag
    assert "x-timestamp" in head

    conn.delete_object(container, obj)
    assert status_of(conn.get_object, container, obj) == 404
    assert status_of(conn.head_object, container, obj) == 404
    assert status_of(conn.delete_object, container, obj) == 404


def test_zero_byte_and_overwrite(conn, name):
    container, obj = name("c"), name("o")
    conn.put_container(container)
    conn.put_object(container, obj, b"")
    headers, got = conn.get_object(container, obj)
    assert got == b"" and headers["content-length"] == "0"
    conn.put_object(container, obj, b"second version")
    assert conn.get_object(container, obj)[1] == b"second version"


def test_streamed_put_from_file_object(conn, name, tmp_path):
    container, obj = name("c"), name("o")
    path = tmp_path / "blob"
    data = os.urandom(3 * 1024 * 1024 + 17)
    path.write_bytes(data)
    conn.put_container(container)
    with open(path, "rb") as handle:  # no length given: chunked transfer encoding
        conn.put_object(container, obj, handle, chunk_size=65536)
    headers, got = conn.get_object(container, obj)
    assert got == data
    assert headers["etag"] == hashlib.md5(data).hexdigest()


def test_container_lifecycle_and_counts(conn, name):
    container = name("c")
    conn.put_container(container, headers={"X-Container-Meta-Owner": "qa"})
    conn.put_object(container, "a", b"12345")
    conn.put_object(container, "b", b"1234567890")

    def counts():
        head = conn.head_container(container)
        return (head["x-container-object-count"], head["x-container-bytes-used"]) == ("2", "15")

    wait_until(counts, timeout=10, message="container counts never reached 2 objects / 15 B")
    assert conn.head_container(container)["x-container-meta-owner"] == "qa"
    assert status_of(conn.delete_container, container) == 409
    assert conn.head_container(container)["x-container-object-count"] == "2"

    conn.delete_object(container, "a")
    conn.delete_object(container, "b")
    conn.delete_container(container)
    assert status_of(conn.head_container, container) == 404


def test_account_listing_and_stats(cluster, conn, name):
    container = name("acct")
    conn.put_container(container)
    assert [c["name"] for c in conn.get_account(prefix=container)[1]] == [container]
    conn.put_object(container, "x", b"abc")

    def listed():
        _, containers = conn.get_account(prefix=container)
        return [c for c in containers if c["name"] == container and c["count"] == 1]

    # Object counts reach the account through the container updaters' passes.
    for node in cluster.layout.nodes:
        result = cluster.run_daemon_once(node, "container-updater")
        assert result.returncode == 0, result.stdout + result.stderr
    entry = wait_until(listed, timeout=15, message="account listing never showed the object")
    assert entry[0]["bytes"] == 3
    head = conn.head_account()
    assert int(head["x-account-container-count"]) >= 1
    conn.post_account({"X-Account-Meta-Team": "storage"})
    assert conn.head_account()["x-account-meta-team"] == "storage"


def test_listings_prefix_delimiter_marker(conn, name):
    container = name("list")
    conn.put_container(container)
    names = ["a/1", "a/2", "a/b/3", "b/1", "c", "d"]
    for obj in names:
        conn.put_object(container, obj, obj.encode())

    def listing(**params):
        return [e.get("name") or e.get("subdir") for e in
                conn.get_container(container, **params)[1]]

    assert listing() == sorted(names)
    assert listing(prefix="a/") == ["a/1", "a/2", "a/b/3"]
    assert listing(delimiter="/") == ["a/", "b/", "c", "d"]
    assert listing(prefix="a/", delimiter="/") == ["a/1", "a/2", "a/b/"]
    assert listing(marker="a/2") == ["a/b/3", "b/1", "c", "d"]
    assert listing(marker="a/2", end_marker="c") == ["a/b/3", "b/1"]
    assert listing(limit=2) == ["a/1", "a/2"]
    assert listing(full_listing=True) == sorted(names)
    entry = conn.get_container(container, prefix="c")[1][0]
    assert entry["bytes"] == 1
    assert entry["hash"] == hashlib.md5(b"c").hexdigest()
    assert "last_modified" in entry and "content_type" in entry


def test_listing_formats_plain_and_xml(cluster, conn, name):
    import urllib.request

    container = name("fmt")
    conn.put_container(container)
    conn.put_object(container, "one", b"1")
    conn.put_object(container, "two", b"22")
    token, url = cluster.auth()
    plain = urllib.request.urlopen(urllib.request.Request(
        f"{url}/{container}", headers={"X-Auth-Token": token}), timeout=30).read()
    assert plain.decode().split() == ["one", "two"]
    xml = urllib.request.urlopen(urllib.request.Request(
        f"{url}/{container}?format=xml", headers={"X-Auth-Token": token}), timeout=30).read()
    assert b"<name>one</name>" in xml and b"<bytes>2</bytes>" in xml


def test_object_and_container_metadata_post(conn, name):
    container, obj = name("c"), name("o")
    conn.put_container(container)
    conn.put_object(container, obj, b"data", headers={"X-Object-Meta-Old": "1"})
    conn.post_object(container, obj, {"X-Object-Meta-New": "2"})
    head = conn.head_object(container, obj)
    assert head["x-object-meta-new"] == "2"
    assert "x-object-meta-old" not in head  # POST replaces object metadata
    assert conn.get_object(container, obj)[1] == b"data"

    conn.post_container(container, {"X-Container-Meta-Color": "green"})
    assert conn.head_container(container)["x-container-meta-color"] == "green"
    conn.post_container(container, {"X-Remove-Container-Meta-Color": "x"})
    assert "x-container-meta-color" not in conn.head_container(container)


def test_copy_and_copy_from(conn, name):
    container, obj = name("c"), name("o")
    conn.put_container(container)
    conn.put_object(container, obj, b"original", headers={"X-Object-Meta-K": "v"})
    conn.put_object(container, "copy1", b"", headers={"X-Copy-From": f"/{container}/{obj}"})
    assert conn.get_object(container, "copy1")[1] == b"original"
    assert conn.head_object(container, "copy1")["x-object-meta-k"] == "v"
    conn.copy_object(container, obj, destination=f"/{container}/copy2")
    assert conn.get_object(container, "copy2")[1] == b"original"


def test_ranges_and_conditionals(conn, name):
    container, obj = name("c"), name("o")
    body = bytes(range(256)) * 40
    conn.put_container(container)
    etag = conn.put_object(container, obj, body)

    headers, part = conn.get_object(container, obj, headers={"Range": "bytes=10-19"})
    assert part == body[10:20]
    assert headers["content-range"] == f"bytes 10-19/{len(body)}"
    assert conn.get_object(container, obj, headers={"Range": "bytes=-5"})[1] == body[-5:]
    headers, multi = conn.get_object(container, obj, headers={"Range": "bytes=0-1,5-6"})
    assert headers["content-type"].startswith("multipart/byteranges")
    assert body[0:2] in multi and body[5:7] in multi

    assert status_of(conn.get_object, container, obj,
                     headers={"Range": f"bytes={len(body) + 10}-"}) == 416
    assert status_of(conn.get_object, container, obj,
                     headers={"If-Match": '"not-the-etag"'}) == 412
    assert conn.get_object(container, obj, headers={"If-Match": etag})[1] == body
    with pytest.raises(ClientException) as caught:
        conn.get_object(container, obj, headers={"If-None-Match": etag})
    assert caught.value.http_status == 304


def test_unicode_names_roundtrip(conn, name):
    container = name("ünï")
    obj = "dir/ñame with spaces & symbols?#%.txt"
    conn.put_container(container)
    conn.put_object(container, obj, b"unicode")
    assert conn.get_object(container, obj)[1] == b"unicode"
    assert [e["name"] for e in conn.get_container(container)[1]] == [obj]
