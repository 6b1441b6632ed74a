"""`object_versioning` in the in-process proxy over a real storage cluster."""
from __future__ import annotations

import json
from urllib.parse import quote

from tests.proxy.conftest import Client

MARKER = "application/x-deleted;swift_versions_deleted=1"


def versions(client, container: str, query: str = "") -> list[tuple]:
    resp = client("GET", f"{container}?versions&format=json{query}")
    assert resp.status_int == 200, resp.status
    return [(row["name"], row["version_id"], row["is_latest"]) for row in json.loads(resp.body)]


def versioned(client, container: str) -> None:
    assert client("PUT", container, headers={"X-Versions-Enabled": "true"}).status_int == 201


def put(client, path: str, body: bytes, content_type: str = "text/plain") -> str:
    resp = client("PUT", path, body, {"Content-Type": content_type})
    assert resp.status_int == 201, resp.status
    return resp.headers["X-Object-Version-Id"]


def test_every_write_is_kept_and_addressable(tester):
    versioned(tester, "ov-keep")
    assert tester("HEAD", "ov-keep").headers["X-Versions-Enabled"] == "True"
    v1 = put(tester, "ov-keep/o", b"one", "text/one")
    v2 = put(tester, "ov-keep/o", b"two!", "text/two")
    latest = tester("GET", "ov-keep/o")
    assert latest.body == b"two!" and latest.headers["X-Object-Version-Id"] == v2
    assert latest.headers["Content-Location"] == \
        f"/v1/{quote(tester.account)}/ov-keep/o?version-id={v2}"
    old = tester("GET", f"ov-keep/o?version-id={v1}")
    assert old.body == b"one" and old.headers["Content-Type"] == "text/one"
    assert versions(tester, "ov-keep") == [("o", v2, True), ("o", v1, False)]
    listing = json.loads(tester("GET", "ov-keep?format=json").body)
    assert [(r["name"], r["bytes"], r["content_type"]) for r in listing] == \
        [("o", 4, "text/two")]
    assert "versions" not in tester("GET", "ov-keep").body.decode()


def test_delete_leaves_a_marker_and_an_old_version_can_be_restored(tester):
    versioned(tester, "ov-del")
    v1 = put(tester, "ov-del/o", b"one")
    gone = tester("DELETE", "ov-del/o")
    assert gone.status_int == 204
    marker = gone.headers["X-Object-Version-Id"]
    assert tester("GET", "ov-del/o").status_int == 404
    head = tester("HEAD", f"ov-del/o?version-id={marker}")
    assert head.status_int == 404 and head.headers["Content-Type"] == MARKER
    assert tester("DELETE", "ov-del/o").status_int == 404  # one more marker
    assert len(versions(tester, "ov-del")) == 3
    restored = tester("PUT", f"ov-del/o?version-id={v1}", b"")
    assert restored.status_int == 201 and restored.headers["X-Object-Version-Id"] == v1
    assert tester("GET", "ov-del/o").body == b"one"
    assert versions(tester, "ov-del")[-1] == ("o", v1, True)


def test_bad_version_ids_change_nothing(tester):
    versioned(tester, "ov-bad")
    put(tester, "ov-bad/o", b"one")
    before = versions(tester, "ov-bad")
    assert tester("PUT", "ov-bad/o?version-id=null", b"").status_int == 400
    assert tester("PUT", "ov-bad/o?version-id=bad", b"").status_int == 400
    assert tester("GET", "ov-bad/o?version-id=bad").status_int == 400
    assert tester("PUT", "ov-bad/o?version-id=1234567890.12345", b"").status_int == 404
    assert tester("GET", "ov-bad?versions&version_marker=nope&marker=o").status_int == 400
    assert versions(tester, "ov-bad") == before
    assert tester("GET", "ov-bad/o").body == b"one"


def test_suspended_versioning_writes_the_null_version(tester):
    versioned(tester, "ov-null")
    v1 = put(tester, "ov-null/o", b"one")
    assert tester("POST", "ov-null", headers={"X-Versions-Enabled": "false"}).status_int == 204
    resp = tester("PUT", "ov-null/o", b"plain", {"Content-Type": "text/plain"})
    assert resp.status_int == 201 and "X-Object-Version-Id" not in resp.headers
    assert versions(tester, "ov-null") == [("o", "null", True), ("o", v1, False)]
    # Enabled again, the next write keeps the null object as a version first.
    assert tester("POST", "ov-null", headers={"X-Versions-Enabled": "true"}).status_int == 204
    v3 = put(tester, "ov-null/o", b"three")
    rows = versions(tester, "ov-null")
    assert rows[0] == ("o", v3, True) and len(rows) == 3
    assert tester("POST", "ov-null", headers={"X-Versions-Enabled": "maybe"}).status_int == 400


def test_version_ids_are_for_owners_only(tester, tester3):
    versioned(tester, "ov-acl")
    v1 = put(tester, "ov-acl/o", b"one")
    assert tester("POST", "ov-acl", headers={"X-Container-Read": "test:tester3"}) \
        .status_int == 204
    assert tester3("GET", "ov-acl/o").body == b"one"
    assert tester3("GET", f"ov-acl/o?version-id={v1}").status_int == 403
    assert tester3("DELETE", f"ov-acl/o?version-id={v1}").status_int == 403
    assert tester("GET", f"ov-acl/o?version-id={v1}").body == b"one"


def test_the_versions_container_is_hidden_and_reserved(tester):
    versioned(tester, "ov-hide")
    put(tester, "ov-hide/o", b"one")
    names = [row["name"] for row in json.loads(tester("GET", "?format=json").body)]
    assert "ov-hide" in names and not [n for n in names if n.startswith("\x01")]
    reverse = json.loads(tester("GET", "?format=json&reverse=true").body)
    assert not [row for row in reverse if row["name"].startswith("\x01")]
    assert tester("GET", quote("\x01versions\x01ov-hide")).status_int == 400
    assert tester("PUT", quote("\x01mine")).status_int == 400


def test_a_container_with_versions_cannot_be_deleted(tester):
    versioned(tester, "ov-rm")
    v1 = put(tester, "ov-rm/o", b"one")
    assert tester("DELETE", "ov-rm/o").status_int == 204
    assert tester("DELETE", "ov-rm").status_int == 409
    marker = versions(tester, "ov-rm")[0][1]
    for version_id in (marker, v1):
        assert tester("DELETE", f"ov-rm/o?version-id={version_id}").status_int == 204
    assert versions(tester, "ov-rm") == []
    assert tester("DELETE", "ov-rm").status_int == 204
    assert tester("HEAD", "ov-rm").status_int == 404


def test_unversioned_containers_are_untouched(tester, proxy_app):
    assert tester("PUT", "ov-plain").status_int in (201, 202)
    assert tester("PUT", "ov-plain/o", b"x").status_int == 201
    resp = tester("GET", "ov-plain/o")
    assert resp.body == b"x" and "X-Object-Version-Id" not in resp.headers
    assert versions(tester, "ov-plain") == [("o", "null", True)]
    assert "object_versioning" in json.loads(Client(proxy_app).call("GET", "/info").body)


def test_an_old_version_of_a_link_reaches_the_target_and_a_manifest_answers_its_version(
        tester):
    versioned(tester, "ov-links")
    put(tester, "ov-links/target", b"target data")
    resp = tester("PUT", "ov-links/link", b"", {"X-Symlink-Target": "ov-links/target"})
    link_version = resp.headers["X-Object-Version-Id"]
    put(tester, "ov-links/link", b"not a link any more")
    assert tester("GET", f"ov-links/link?version-id={link_version}").body == b"target data"
    assert tester("GET", "ov-links/link").body == b"not a link any more"
    put(tester, "ov-links/seg", b"segment")
    resp = tester("PUT", "ov-links/manifest?multipart-manifest=put",
                  json.dumps([{"path": "/ov-links/seg"}]).encode())
    assert resp.status_int == 201 and resp.headers["X-Object-Version-Id"]
    rows = {row["name"]: row for row in json.loads(tester("GET", "ov-links?format=json").body)}
    assert rows["link"]["version_symlink"] is True
    assert "%01versions%01ov-links" in rows["link"]["symlink_path"]
    assert rows["manifest"]["bytes"] == len(b"segment")  # the large object's size
    assert rows["manifest"]["slo_etag"]
