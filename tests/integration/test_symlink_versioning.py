"""Symlinks and legacy versioned writes end to end on the session cluster (swiftclient)."""
from __future__ import annotations

import pytest
from swiftclient.exceptions import ClientException

pytestmark = pytest.mark.cluster


def test_symlink_reads_its_target_and_lists_its_path(conn, name):
    container = name("sym")
    conn.put_container(container)
    conn.put_object(container, "target", b"payload", content_type="text/target")
    conn.put_object(container, "link", b"", headers={"X-Symlink-Target": f"{container}/target"})
    headers, body = conn.get_object(container, "link")
    assert body == b"payload"
    assert headers["content-location"].endswith(f"/{container}/target")
    headers, body = conn.get_object(container, "link", query_string="symlink=get")
    assert body == b"" and headers["x-symlink-target"] == f"{container}/target"
    _, listing = conn.get_container(container)
    link = next(entry for entry in listing if entry["name"] == "link")
    assert link["symlink_path"].endswith(f"/{container}/target")
    assert "symlink_etag" not in link


def test_static_link_refused_on_a_wrong_etag_and_nothing_written(conn, name):
    container = name("sym")
    conn.put_container(container)
    conn.put_object(container, "target", b"payload")
    with pytest.raises(ClientException) as caught:
        conn.put_object(container, "static", b"", headers={
            "X-Symlink-Target": f"{container}/target", "X-Symlink-Target-Etag": "0" * 32})
    assert caught.value.http_status == 409
    with pytest.raises(ClientException) as caught:
        conn.head_object(container, "static")
    assert caught.value.http_status == 404


def test_versions_location_keeps_and_restores_the_previous_version(conn, conn3, name):
    archive, container = name("arch"), name("vers")
    conn.put_container(archive)
    conn.put_container(container, headers={"X-Versions-Location": archive})
    assert conn.head_container(container)["x-versions-location"] == archive
    conn.put_object(container, "obj", b"first")
    conn.put_object(container, "obj", b"second")
    _, listing = conn.get_container(archive)
    assert [entry["name"].startswith("003obj/") for entry in listing] == [True]
    with pytest.raises(ClientException) as caught:  # no role in the account: no change
        conn3.delete_object(container, "obj")
    assert caught.value.http_status == 403
    assert len(conn.get_container(archive)[1]) == 1
    conn.delete_object(container, "obj")
    assert conn.get_object(container, "obj")[1] == b"first"
    assert conn.get_container(archive)[1] == []
