"""`symlink`: links and static links through the in-process pipeline on a real storage cluster."""
from __future__ import annotations

import json

import pytest

from proxy.middleware.symlink_target import (
    EMPTY_ETAG,
    LinkRefusal,
    link_sysmeta,
    listing_entry,
    parse_link_request,
)

BODY = b"TARGET BODY"


@pytest.fixture(scope="module")
def containers(tester):
    for container in ("sl-tgt", "sl-links"):
        assert tester("PUT", container).status_int in (201, 202)
    put = tester("PUT", "sl-tgt/obj", BODY, {"Content-Type": "application/target"})
    assert put.status_int == 201
    return put.headers["Etag"].strip('"')


def test_a_link_reads_as_its_target_and_says_where_it_points(tester, containers):
    assert tester("PUT", "sl-links/l1", b"", {"X-Symlink-Target": "sl-tgt/obj"}).status_int == 201
    got = tester("GET", "sl-links/l1")
    assert got.status_int == 200 and got.body == BODY
    assert got.headers["Content-Location"] == f"/v1/{tester.account}/sl-tgt/obj"
    assert got.headers["Etag"].strip('"') == containers
    ranged = tester("GET", "sl-links/l1", headers={"Range": "bytes=7-10"})
    assert ranged.status_int == 206 and ranged.body == b"BODY"
    itself = tester("GET", "sl-links/l1?symlink=get")
    assert itself.status_int == 200 and itself.body == b""
    assert itself.headers["X-Symlink-Target"] == "sl-tgt/obj"
    assert not [h for h in itself.headers if h.lower().startswith("x-object-sysmeta-")]


def test_bad_links_are_refused_and_nothing_is_written(tester, containers):
    cases = [({"X-Symlink-Target": "no-slash"}, 412),
             ({"X-Symlink-Target": "sl-links/self"}, 400),
             ({"X-Symlink-Target": "sl-tgt/obj", "X-Symlink-Target-Etag": "nope"}, 409),
             ({"X-Symlink-Target": "sl-tgt/missing", "X-Symlink-Target-Etag": EMPTY_ETAG}, 409)]
    for headers, status in cases:
        assert tester("PUT", "sl-links/self", b"", headers).status_int == status, headers
    assert tester("PUT", "sl-links/self", b"x", {"X-Symlink-Target": "sl-tgt/obj"}) \
        .status_int == 400
    assert tester("HEAD", "sl-links/self?symlink=get").status_int == 404
    refused = tester("POST", "sl-tgt/obj", headers={"X-Symlink-Target": "a/b"})
    assert refused.status_int == 400


def test_a_static_link_breaks_when_its_target_changes(tester, containers):
    assert tester("PUT", "sl-tgt/moving", b"v1").status_int == 201
    etag = tester("HEAD", "sl-tgt/moving").headers["Etag"].strip('"')
    put = tester("PUT", "sl-links/static", b"", {"X-Symlink-Target": "sl-tgt/moving",
                                                  "X-Symlink-Target-Etag": etag})
    assert put.status_int == 201
    assert tester("GET", "sl-links/static").body == b"v1"
    assert tester("PUT", "sl-tgt/moving", b"v2").status_int == 201
    broken = tester("GET", "sl-links/static")
    assert broken.status_int == 409
    assert broken.headers["Content-Location"].endswith("/sl-tgt/moving")


def test_a_loop_is_a_409_but_the_links_themselves_stay_readable(tester, containers):
    tester("PUT", "sl-links/a", b"", {"X-Symlink-Target": "sl-links/b"})
    tester("PUT", "sl-links/b", b"", {"X-Symlink-Target": "sl-links/a"})
    looped = tester("GET", "sl-links/a")
    assert looped.status_int == 409 and b"Too many levels" in looped.body
    assert tester("GET", "sl-links/a?symlink=get").status_int == 200


def test_post_to_a_link_updates_the_link_and_redirects(tester, containers):
    tester("PUT", "sl-links/p", b"", {"X-Symlink-Target": "sl-tgt/obj"})
    posted = tester("POST", "sl-links/p", headers={"X-Object-Meta-Color": "red"})
    assert posted.status_int == 307
    assert posted.headers["Location"] == f"/v1/{tester.account}/sl-tgt/obj"
    assert tester("HEAD", "sl-links/p?symlink=get").headers["X-Object-Meta-Color"] == "red"
    assert "X-Object-Meta-Color" not in tester("HEAD", "sl-tgt/obj").headers


def test_listing_shows_link_fields(tester, containers):
    tester("PUT", "sl-links/listed", b"", {"X-Symlink-Target": "sl-tgt/obj",
                                           "X-Symlink-Target-Etag": containers})
    entries = json.loads(tester("GET", "sl-links?format=json&prefix=listed").body)
    assert entries[0]["symlink_path"] == f"/v1/{tester.account}/sl-tgt/obj"
    assert entries[0]["symlink_etag"] == containers
    assert entries[0]["symlink_bytes"] == len(BODY)
    assert entries[0]["hash"] == EMPTY_ETAG
    assert entries[0]["content_type"] == "application/target"


def test_copy_with_symlink_get_copies_the_link(tester, containers):
    tester("PUT", "sl-links/orig", b"", {"X-Symlink-Target": "sl-tgt/obj"})
    assert tester("PUT", "sl-links/copy?symlink=get", b"",
                  {"X-Copy-From": "sl-links/orig"}).status_int == 201
    assert tester("HEAD", "sl-links/copy?symlink=get").headers["X-Symlink-Target"] == \
        "sl-tgt/obj"
    assert tester("PUT", "sl-links/plain", b"", {"X-Copy-From": "sl-links/orig"}) \
        .status_int == 201
    plain = tester("GET", "sl-links/plain?symlink=get")
    assert plain.body == BODY and "X-Symlink-Target" not in plain.headers


def test_cross_account_link_needs_read_access(tester, tester2, containers):
    assert tester2("PUT", "sl-links2").status_int in (201, 202)
    put = tester2("PUT", "sl-links2/x", b"", {"X-Symlink-Target": "sl-tgt/obj",
                                              "X-Symlink-Target-Account": tester.account})
    assert put.status_int == 201
    assert tester2("GET", "sl-links2/x").status_int == 403


def test_parse_link_request_normalises_and_refuses():
    link = parse_link_request({"x-symlink-target": "c/a%2Fb%20c"}, "AUTH_a", "lc", "l")
    assert (link.container, link.obj, link.quoted_target) == ("c", "a/b c", "c/a/b%20c")
    assert link.path == "/v1/AUTH_a/c/a/b%20c"
    raw_utf8 = "\u00e9/\u00e8".encode().decode("latin-1")  # as WSGI hands it over
    link = parse_link_request({"x-symlink-target": raw_utf8}, "AUTH_a", "lc", "l")
    assert (link.container, link.obj, link.quoted_target) == ("\u00e9", "\u00e8",
                                                             "%C3%A9/%C3%A8")
    with pytest.raises(LinkRefusal):
        parse_link_request({"x-symlink-target": "c/o", "x-symlink-target-bytes": "1"},
                           "AUTH_a", "lc", "l")
    with pytest.raises(LinkRefusal):
        parse_link_request({"x-symlink-target": "lc/l"}, "AUTH_a", "lc", "l")
    for size in ("9" * 5000, "1" * 19, "-1", "٣"):  # int() refuses 5000 digits
        with pytest.raises(LinkRefusal) as refused:
            parse_link_request({"x-symlink-target": "c/o", "x-symlink-target-etag": "ab",
                                "x-symlink-target-bytes": size}, "AUTH_a", "lc", "l")
        assert refused.value.status == 400


def test_listing_entry_round_trips_the_stored_parameters():
    link = parse_link_request({"x-symlink-target": "c/o;x=y", "x-symlink-target-etag": "ab"},
                              "AUTH_a", "lc", "l")
    link.size = 5
    stored = link_sysmeta(link, False)
    entry = listing_entry({"name": "l", "hash": stored[
        "x-object-sysmeta-container-update-override-etag"]})
    assert entry == {"name": "l", "hash": EMPTY_ETAG, "symlink_path": "/v1/AUTH_a/c/o%3Bx%3Dy",
                     "symlink_etag": "ab", "symlink_bytes": 5}
    assert listing_entry({"name": "x", "hash": "abc"}) == {"name": "x", "hash": "abc"}
