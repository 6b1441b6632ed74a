"""Large objects on the all-in-one cluster through python-swiftclient: SLO manifests with
ranged, inline and nested segments, part numbers, manifest copies and listings; DLO
manifests made and unmade by POST; referrer ACLs on a segment container."""
from __future__ import annotations

import base64
import hashlib
import json

import pytest
from swiftclient.exceptions import ClientException

pytestmark = pytest.mark.cluster


def md5hex(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def put_manifest(conn, container, obj, entries, **kwargs):
    return conn.put_object(container, obj, json.dumps(entries).encode(),
                           query_string="multipart-manifest=put", **kwargs)


def test_slo_with_ranges_inline_data_and_a_nested_manifest(conn, name):
    container = name("slo")
    conn.put_container(container)
    conn.put_object(container, "a", b"a" * 1000)
    conn.put_object(container, "b", b"b" * 10)
    put_manifest(conn, container, "inner", [{"path": f"{container}/a"},
                                            {"path": f"{container}/b"}])
    put_manifest(conn, container, "outer", [
        {"path": f"/{container}/inner", "range": "998-1001"},
        {"data": base64.b64encode(b"--").decode()},
        {"path": f"/{container}/a", "range": "-2"},
    ])
    headers, body = conn.get_object(container, "outer")
    assert body == b"aabb--aa"
    assert headers["x-static-large-object"] == "True"
    headers, body = conn.get_object(container, "outer", headers={"Range": "bytes=3-5"})
    assert body == b"b--"
    part_headers, part = conn.get_object(container, "outer", query_string="part-number=3")
    assert part == b"aa" and part_headers["x-parts-count"] == "3"
    assert part_headers["content-range"] == "bytes 6-7/8"
    with pytest.raises(ClientException) as caught:
        conn.get_object(container, "outer", query_string="part-number=4")
    assert caught.value.http_status == 416
    listing = {item["name"]: item for item in conn.get_container(container)[1]}
    assert listing["outer"]["bytes"] == 8
    assert listing["outer"]["slo_etag"] == conn.head_object(container, "outer")["etag"]


def test_slo_manifest_copy_is_a_manifest(conn, name):
    container = name("slocopy")
    conn.put_container(container)
    conn.put_object(container, "a", b"a" * 100)
    put_manifest(conn, container, "m", [{"path": f"{container}/a", "range": "0-9"}])
    conn.copy_object(container, "m", f"/{container}/m2",
                     headers={"X-Object-Meta-Kind": "copy"}, response_dict={})
    # the copy above copies the content; a manifest copy names multipart-manifest=get
    assert conn.get_object(container, "m2")[1] == b"a" * 10
    conn.put_object(container, "m3", b"", headers={"X-Copy-From": f"{container}/m"},
                    query_string="multipart-manifest=get")
    raw = conn.get_object(container, "m3", query_string="multipart-manifest=get")[1]
    assert json.loads(raw)[0]["range"] == "0-9"
    assert conn.get_object(container, "m3")[1] == b"a" * 10


def test_a_bad_slo_segment_is_400_and_stores_nothing(conn, name):
    container = name("slobad")
    conn.put_container(container)
    conn.put_object(container, "a", b"a" * 10)
    with pytest.raises(ClientException) as caught:
        put_manifest(conn, container, "m", [{"path": f"{container}/a", "range": "10-"},
                                            {"path": f"{container}/missing"}])
    assert caught.value.http_status == 400
    assert b"404 Not Found" in caught.value.http_response_content
    with pytest.raises(ClientException) as caught:
        conn.head_object(container, "m")
    assert caught.value.http_status == 404


def test_dlo_made_and_unmade_by_post(conn, name):
    container = name("dlo")
    conn.put_container(container)
    for letter in "xy":
        conn.put_object(container, f"seg/{letter}", letter.encode() * 3)
    conn.put_object(container, "obj", b"plain")
    conn.post_object(container, "obj", headers={"X-Object-Manifest": f"{container}/seg/"})
    headers, body = conn.get_object(container, "obj")
    assert body == b"xxxyyy"
    etag = headers["etag"]
    with pytest.raises(ClientException) as caught:
        conn.get_object(container, "obj", headers={"If-None-Match": etag})
    assert caught.value.http_status == 304
    conn.post_object(container, "obj", headers={})
    assert conn.get_object(container, "obj")[1] == b"plain"


def test_referrer_acl_on_the_segment_container(conn, conn3, name):
    manifests, segments = name("refm"), name("refs")
    for container in (manifests, segments):
        conn.put_container(container)
    conn.put_object(segments, "a", b"a" * 5)
    put_manifest(conn, manifests, "m", [{"path": f"{segments}/a"}])
    acl = {"X-Container-Read": ".r:*.example.com"}
    referer = {"Referer": "http://www.example.com/page"}
    conn.post_container(manifests, acl)
    with pytest.raises(ClientException) as caught:
        conn3.get_object(manifests, "m", headers=referer)
    assert caught.value.http_status == 409
    conn.post_container(segments, acl)
    assert conn3.get_object(manifests, "m", headers=referer)[1] == b"a" * 5
