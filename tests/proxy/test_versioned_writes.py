"""`versioned_writes`: legacy stack and history modes through the in-process pipeline."""
from __future__ import annotations

import json

import pytest

from proxy.middleware.version_archive import (
    DELETE_MARKER_TYPE,
    SYSMETA_LOCATION,
    SYSMETA_MODE,
    SettingError,
    archive_name,
    setting_from_headers,
    setting_of,
)


def archived(client, container: str) -> list[dict]:
    resp = client("GET", f"{container}?format=json")
    return json.loads(resp.body) if resp.status_int == 200 else []


@pytest.fixture
def stack(tester):
    for name in ("vw-archive", "vw-stack"):
        tester("PUT", name)
    assert tester("POST", "vw-stack", headers={"X-Versions-Location": "vw-archive"}) \
        .status_int == 204
    yield "vw-stack", "vw-archive"
    for entry in archived(tester, "vw-archive"):
        tester("DELETE", f"vw-archive/{entry['name']}")
    for entry in archived(tester, "vw-stack"):
        tester("DELETE", f"vw-stack/{entry['name']}")


def test_container_shows_its_setting_and_hides_sysmeta(tester, stack):
    head = tester("HEAD", "vw-stack")
    assert head.headers["X-Versions-Location"] == "vw-archive"
    assert not [h for h in head.headers if h.lower().startswith("x-container-sysmeta-")]
    bad = tester("POST", "vw-stack", headers={"X-Versions-Location": "a",
                                              "X-History-Location": "b"})
    assert bad.status_int == 400
    assert tester("HEAD", "vw-stack").headers["X-Versions-Location"] == "vw-archive"


def test_stack_mode_archives_on_put_and_restores_on_delete(tester, stack):
    container, archive = stack
    tester("PUT", f"{container}/o", b"one", {"Content-Type": "text/one",
                                             "X-Object-Meta-N": "1"})
    tester("PUT", f"{container}/o", b"two", {"Content-Type": "text/two"})
    entries = archived(tester, archive)
    assert [e["name"][:5] for e in entries] == ["001o/"]
    old = tester("GET", f"{archive}/{entries[0]['name']}")
    assert old.body == b"one" and old.headers["Content-Type"] == "text/one"
    assert old.headers["X-Object-Meta-N"] == "1"
    assert tester("DELETE", f"{container}/o").status_int == 204
    restored = tester("GET", f"{container}/o")
    assert restored.body == b"one" and restored.headers["X-Object-Meta-N"] == "1"
    assert archived(tester, archive) == []
    assert tester("DELETE", f"{container}/o").status_int == 204
    assert tester("GET", f"{container}/o").status_int == 404


def test_history_mode_leaves_a_delete_marker(tester, stack):
    container, archive = stack
    tester("POST", container, headers={"X-History-Location": archive})
    assert tester("HEAD", container).headers["X-History-Location"] == archive
    tester("PUT", f"{container}/h", b"one")
    assert tester("DELETE", f"{container}/h").status_int == 204
    assert tester("GET", f"{container}/h").status_int == 404
    types = [e["content_type"] for e in archived(tester, archive)]
    assert len(types) == 2 and types[1] == DELETE_MARKER_TYPE


def test_a_user_without_write_access_changes_nothing(tester, tester3, stack):
    container, archive = stack
    tester("PUT", f"{container}/acl", b"mine")
    assert tester3("PUT", f"{container}/acl", b"theirs").status_int == 403
    assert tester3("DELETE", f"{container}/acl").status_int == 403
    assert archived(tester, archive) == []
    assert tester("GET", f"{container}/acl").body == b"mine"


def test_settings_from_headers():
    assert setting_from_headers({"x-versions-location": "a%20b"}) == {
        SYSMETA_LOCATION: "a%20b", SYSMETA_MODE: "stack"}
    utf8 = "\u00e9t\u00e9".encode().decode("latin-1")  # as WSGI hands it over
    assert setting_from_headers({"x-history-location": utf8})[SYSMETA_LOCATION] == "%C3%A9t%C3%A9"
    assert setting_of([("X-Container-Sysmeta-Versions-Location", "%C3%A9t%C3%A9")]) == (
        "\u00e9t\u00e9", "stack")
    assert setting_from_headers({"x-history-location": "h",
                                 "x-remove-history-location": "x"})[SYSMETA_MODE] == "history"
    assert setting_from_headers({"x-remove-versions-location": "x"}) == {
        SYSMETA_LOCATION: "", SYSMETA_MODE: ""}
    assert setting_from_headers({"x-container-meta-a": "b"}) is None
    with pytest.raises(SettingError):
        setting_from_headers({"x-versions-location": "a/b"})
    assert setting_of([("X-Container-Sysmeta-Versions-Location", "v")]) == ("v", "stack")
    assert setting_of([("X-Container-Sysmeta-Versions-Location", "")]) is None
    assert archive_name("\u00e9", "1.00000") == "002\u00e9/1.00000"
