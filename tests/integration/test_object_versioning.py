"""Object versioning on the real cluster, through python-swiftclient: versions survive
overwrites and deletes, and only owners reach a version by its id."""
from __future__ import annotations

import json

import pytest
from swiftclient.exceptions import ClientException

pytestmark = pytest.mark.cluster


def version_listing(conn, container: str) -> list[dict]:
    _headers, body = conn.get_container(container, query_string="versions",
                                        full_listing=False)
    return body if isinstance(body, list) else json.loads(body)


def test_versions_survive_overwrite_and_delete(conn, name):
    container = name("ov")
    conn.put_container(container, headers={"X-Versions-Enabled": "true"})
    assert conn.head_container(container)["x-versions-enabled"] == "True"
    first = {}
    conn.put_object(container, "doc", b"first", content_type="text/one",
                    response_dict=first)
    v1 = first["headers"]["x-object-version-id"]
    conn.put_object(container, "doc", b"second!", content_type="text/two")
    assert conn.get_object(container, "doc")[1] == b"second!"
    conn.delete_object(container, "doc")
    with pytest.raises(ClientException) as caught:
        conn.get_object(container, "doc")
    assert caught.value.http_status == 404
    rows = version_listing(conn, container)
    assert [(r["bytes"], r["is_latest"]) for r in rows] == [(0, True), (7, False),
                                                            (5, False)]
    headers, body = conn.get_object(container, "doc", query_string=f"version-id={v1}")
    assert body == b"first" and headers["content-type"] == "text/one"
    # Not in the account listing: only the container itself.
    names = [c["name"] for c in conn.get_account(full_listing=True)[1]]
    assert container in names and not [n for n in names if n.startswith("\x01")]


def test_version_ids_need_an_owner(conn, conn3, name):
    container = name("ov-acl")
    conn.put_container(container, headers={"X-Versions-Enabled": "true",
                                           "X-Container-Read": "test:tester3"})
    answer = {}
    conn.put_object(container, "doc", b"data", response_dict=answer)
    version = answer["headers"]["x-object-version-id"]
    assert conn3.get_object(container, "doc")[1] == b"data"
    with pytest.raises(ClientException) as caught:
        conn3.get_object(container, "doc", query_string=f"version-id={version}")
    assert caught.value.http_status == 403
    with pytest.raises(ClientException) as caught:
        conn3.delete_object(container, "doc", query_string=f"version-id={version}")
    assert caught.value.http_status == 403
    assert conn.get_object(container, "doc", query_string=f"version-id={version}")[1] \
        == b"data"


def test_deleting_an_old_manifest_version_with_its_segments(conn, name):
    """`?multipart-manifest=delete&version-id=V` deletes that version and its segments, and
    leaves the current version and the rest of the history alone."""
    container, segments = name("ov-slo"), name("ov-segs")
    conn.put_container(container, headers={"X-Versions-Enabled": "true"})
    conn.put_container(segments)
    manifests = {}
    for letter in "ab":
        etag = conn.put_object(segments, letter, letter.encode() * 100)
        body = json.dumps([{"path": f"/{segments}/{letter}", "etag": etag,
                            "size_bytes": 100}])
        answer = {}
        conn.put_object(container, "big", body, query_string="multipart-manifest=put",
                        response_dict=answer)
        manifests[letter] = answer["headers"]["x-object-version-id"]
    conn.delete_object(container, "big",
                       query_string=f"multipart-manifest=delete&version-id={manifests['a']}")
    rows = version_listing(conn, container)
    assert [r["version_id"] for r in rows] == [manifests["b"]]  # no delete marker made
    assert conn.get_object(container, "big")[1] == b"b" * 100
    assert [o["name"] for o in conn.get_container(segments)[1]] == ["b"]
