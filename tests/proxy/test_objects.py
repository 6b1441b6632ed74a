"""Object and container data path through the proxy, with real storage servers.

Every refused request is checked twice: its status, and that nothing changed.
"""
from __future__ import annotations

import hashlib
import time

import pytest


@pytest.fixture(scope="module")
def cont(tester):
    assert tester("PUT", "objs").status_int in (201, 202)
    return "objs"


def listing(client, container):
    resp = client("GET", container)
    assert resp.status_int in (200, 204), resp.status
    return resp.body.decode().split()


def test_put_get_head_delete(tester, cont):
    body = b"x" * 4096
    resp = tester("PUT", f"{cont}/a.txt", body, {"X-Object-Meta-Color": "blue"})
    assert resp.status_int == 201
    assert resp.headers["Etag"] == hashlib.md5(body).hexdigest()
    resp = tester("GET", f"{cont}/a.txt")
    assert resp.status_int == 200 and resp.body == body
    assert resp.headers["X-Object-Meta-Color"] == "blue"
    assert resp.headers["Content-Type"].startswith("text/plain")  # guessed from the name
    assert "X-Backend-Timestamp" not in resp.headers
    head = tester("HEAD", f"{cont}/a.txt")
    assert head.status_int == 200 and head.headers["Content-Length"] == "4096"
    assert "a.txt" in listing(tester, cont)
    assert tester("DELETE", f"{cont}/a.txt").status_int == 204
    assert tester("GET", f"{cont}/a.txt").status_int == 404
    assert tester("DELETE", f"{cont}/a.txt").status_int == 404
    assert "a.txt" not in listing(tester, cont)


def test_large_streamed_put_and_ranges(tester, cont):
    body = bytes(range(256)) * 4096 * 3  # 3 MiB, many 64 KiB chunks
    assert tester("PUT", f"{cont}/big", body).status_int == 201
    resp = tester("GET", f"{cont}/big")
    assert resp.body == body
    resp = tester("GET", f"{cont}/big", headers={"Range": "bytes=100-199"})
    assert resp.status_int == 206 and resp.body == body[100:200]
    resp = tester("GET", f"{cont}/big", headers={"Range": "bytes=-10"})
    assert resp.body == body[-10:]


def test_chunked_put(tester, cont, proxy_app):
    from webob import Request

    req = Request.blank(f"/v1/AUTH_test/{cont}/chunked", method="PUT",
                        headers={"X-Auth-Token": tester.token, "Transfer-Encoding": "chunked"})
    body = b"abc" * 50000
    req.body_file = _Chunks(body)
    req.environ.pop("CONTENT_LENGTH", None)
    req.headers["Transfer-Encoding"] = "chunked"
    resp = req.get_response(proxy_app)
    assert resp.status_int == 201, resp.body
    assert tester("GET", f"{cont}/chunked").body == body


class _Chunks:
    def __init__(self, data):
        self.data = data

    def read(self, size=-1):
        size = len(self.data) if size < 0 else min(size, 7000)
        piece, self.data = self.data[:size], self.data[size:]
        return piece


def test_post_updates_metadata(tester, cont):
    tester("PUT", f"{cont}/meta", b"m", {"X-Object-Meta-A": "1"})
    resp = tester("POST", f"{cont}/meta", headers={"X-Object-Meta-B": "2"})
    assert resp.status_int == 202
    head = tester("HEAD", f"{cont}/meta")
    assert head.headers.get("X-Object-Meta-B") == "2"
    assert "X-Object-Meta-A" not in head.headers
    assert tester("POST", f"{cont}/missing", headers={"X-Object-Meta-B": "2"}).status_int == 404


def test_etag_mismatch_is_422_and_stores_nothing(tester, cont):
    resp = tester("PUT", f"{cont}/bad-etag", b"data", {"ETag": "0" * 32})
    assert resp.status_int == 422
    assert tester("GET", f"{cont}/bad-etag").status_int == 404
    assert "bad-etag" not in listing(tester, cont)


def test_missing_length_is_411_and_stores_nothing(tester, cont, proxy_app):
    from webob import Request

    req = Request.blank(f"/v1/AUTH_test/{cont}/nolength", method="PUT",
                        headers={"X-Auth-Token": tester.token})
    req.environ.pop("CONTENT_LENGTH", None)
    assert req.get_response(proxy_app).status_int == 411
    assert tester("GET", f"{cont}/nolength").status_int == 404


def test_too_large_is_413_and_stores_nothing(tester, cont, proxy_app):
    from webob import Request

    req = Request.blank(f"/v1/AUTH_test/{cont}/huge", method="PUT",
                        headers={"X-Auth-Token": tester.token})
    req.environ["CONTENT_LENGTH"] = str(5 * 1024**3 + 1)
    assert req.get_response(proxy_app).status_int == 413
    assert tester("GET", f"{cont}/huge").status_int == 404


def test_short_body_is_499_and_stores_nothing(tester, cont, proxy_app):
    from webob import Request

    for size in (10, 500000):
        req = Request.blank(f"/v1/AUTH_test/{cont}/short{size}", method="PUT",
                            headers={"X-Auth-Token": tester.token})
        req.body = b"z" * size
        req.environ["CONTENT_LENGTH"] = str(size + 5)
        assert req.get_response(proxy_app).status_int == 499
        assert tester("GET", f"{cont}/short{size}").status_int == 404


@pytest.mark.parametrize("name,headers,status", [
    ("n" * 1025, {}, 400),
    ("too-many-meta", {f"X-Object-Meta-K{i}": "v" for i in range(91)}, 400),
    ("long-meta-name", {"X-Object-Meta-" + "k" * 129: "v"}, 400),
    ("long-meta-value", {"X-Object-Meta-K": "v" * 257}, 400),
    ("delete-at-past", {"X-Delete-At": "1000"}, 400),
    ("delete-at-junk", {"X-Delete-At": "soon"}, 400),
    ("delete-after-neg", {"X-Delete-After": "-5"}, 400),
    ("reserved", {"X-Static-Large-Object": "True"}, 400),
    ("bad-manifest", {"X-Object-Manifest": "nocontainerprefix"}, 400),
])
def test_constraint_violations_store_nothing(tester, cont, name, headers, status):
    resp = tester("PUT", f"{cont}/{name}", b"payload", headers)
    assert resp.status_int == status, resp.body
    assert len(resp.body.strip().splitlines()) == 1
    assert tester("HEAD", f"{cont}/{name}").status_int in (404, 400)
    assert name not in listing(tester, cont)


def test_a_name_verdict_holds_for_every_request_of_that_path(tester, cont):
    """The proxy remembers each path's name check: asked again, the same answer."""
    for _ in range(3):
        assert tester("GET", f"{cont}/{'n' * 1025}").status_int == 400
        assert tester("GET", f"{cont}/{'n' * 1024}").status_int == 404
        assert tester("GET", f"{'c' * 257}/o").status_int == 400


def test_delete_times_of_hundreds_of_digits_are_stored_as_the_last_second(tester, cont):
    """A float cannot hold them (an OverflowError was a 500); past the last ten-digit
    second they are stored as that second, as the object server stores them."""
    for name, headers in (("after", {"X-Delete-After": "1" + "0" * 400}),
                          ("at", {"X-Delete-At": "1" + "0" * 400})):
        assert tester("PUT", f"{cont}/far-{name}", b"e", headers).status_int == 201
        assert tester("HEAD", f"{cont}/far-{name}").headers["X-Delete-At"] == "9999999999"


def test_delete_after_becomes_delete_at(tester, cont):
    before = int(time.time())
    assert tester("PUT", f"{cont}/expiring", b"e", {"X-Delete-After": "3600"}).status_int == 201
    delete_at = int(tester("HEAD", f"{cont}/expiring").headers["X-Delete-At"])
    assert before + 3600 <= delete_at <= int(time.time()) + 3601


def test_object_in_missing_container_is_404(tester):
    assert tester("PUT", "no-such-container/o", b"x").status_int == 404
    assert tester("GET", "no-such-container").status_int == 404


def test_container_constraints(tester):
    assert tester("PUT", "c" * 257).status_int == 400
    assert tester("HEAD", "c" * 257).status_int == 400
    assert "c" * 257 not in tester("GET").body.decode().split()
    resp = tester("PUT", "meta-heavy", headers={f"X-Container-Meta-K{i}": "v" for i in range(91)})
    assert resp.status_int == 400
    assert tester("HEAD", "meta-heavy").status_int == 404
    resp = tester("GET", "objs?limit=10001")
    assert resp.status_int == 412
    assert tester("GET", "?limit=10001").status_int == 412
    assert tester("GET", "?limit=5000.0").status_int in (200, 204)  # ignored, as in Swift


def test_listing_multi_character_delimiter_and_path(tester):
    tester("PUT", "multi")
    for name in ("a-&1", "a-&2", "b", "d/", "d/f", "d/sub/g"):
        assert tester("PUT", f"multi/{name}", b"x").status_int == 201
    assert tester("GET", "multi?delimiter=-%26").body == b"a-&\nb\nd/\nd/f\nd/sub/g\n"
    assert tester("GET", "multi?path=d").body == b"d/f\n"


def test_container_listing_formats_and_params(tester):
    tester("PUT", "listme")
    for name in ("a/1", "a/2", "b", "c"):
        assert tester("PUT", f"listme/{name}", name.encode()).status_int == 201
    assert tester("GET", "listme?format=json").json[0]["name"] == "a/1"
    assert tester("GET", "listme?limit=2").body == b"a/1\na/2\n"
    assert tester("GET", "listme?marker=a/2").body == b"b\nc\n"
    assert tester("GET", "listme?delimiter=/").body == b"a/\nb\nc\n"
    assert tester("GET", "listme?prefix=a/&format=json").json[1]["bytes"] == 3
    assert b"<container" in tester("GET", "listme?format=xml").body
    head = tester("HEAD", "listme")
    assert head.headers["X-Container-Object-Count"] == "4"


def test_container_delete_rules(tester):
    tester("PUT", "todelete")
    tester("PUT", "todelete/o", b"x")
    assert tester("DELETE", "todelete").status_int == 409
    assert tester("HEAD", "todelete").status_int == 204
    tester("DELETE", "todelete/o")
    assert tester("DELETE", "todelete").status_int == 204
    assert tester("HEAD", "todelete").status_int == 404
    assert tester("PUT", "todelete/o", b"x").status_int == 404


def test_account_autocreate_and_metadata(admin):
    from tests.proxy.conftest import Client

    fresh = Client(admin.app, "admin:admin", "admin")
    fresh.account = "AUTH_brandnew"
    head = fresh("HEAD")
    assert head.status_int == 204 and head.headers["X-Account-Container-Count"] == "0"
    assert fresh("GET", "?format=json").json == []
    assert fresh("PUT", "first").status_int == 201
    assert fresh("GET").body == b"first\n"
    assert fresh("POST", headers={"X-Account-Meta-Owner": "ops"}).status_int == 204
    assert fresh("HEAD").headers["X-Account-Meta-Owner"] == "ops"
    too_much = {f"X-Account-Meta-K{i}": "v" for i in range(91)}
    assert fresh("POST", headers=too_much).status_int == 400
    assert "X-Account-Meta-K1" not in fresh("HEAD").headers


def test_account_put_delete_need_reseller(tester, admin):
    assert tester("PUT").status_int == 403
    assert tester("DELETE").status_int == 403
    assert tester("HEAD").status_int == 204
    from tests.proxy.conftest import Client

    other = Client(admin.app, "admin:admin", "admin")
    other.account = "AUTH_resold"
    assert other("PUT").status_int in (201, 202)
    assert other("HEAD").status_int == 204


def test_copy_and_copy_from(tester, cont):
    tester("PUT", f"{cont}/src", b"copy me", {"X-Object-Meta-Kind": "orig",
                                              "Content-Type": "application/x-test"})
    resp = tester("COPY", f"{cont}/src", headers={"Destination": f"{cont}/dst1"})
    assert resp.status_int == 201
    assert resp.headers["X-Copied-From"] == f"{cont}/src"
    got = tester("GET", f"{cont}/dst1")
    assert got.body == b"copy me" and got.headers["X-Object-Meta-Kind"] == "orig"
    assert got.headers["Content-Type"] == "application/x-test"
    resp = tester("PUT", f"{cont}/dst2", b"", {"X-Copy-From": f"/{cont}/src",
                                              "X-Object-Meta-Extra": "yes"})
    assert resp.status_int == 201
    got = tester("GET", f"{cont}/dst2")
    assert got.body == b"copy me"
    assert got.headers["X-Object-Meta-Extra"] == "yes"
    assert got.headers["X-Object-Meta-Kind"] == "orig"
    resp = tester("PUT", f"{cont}/dst3", b"", {"X-Copy-From": f"{cont}/src",
                                              "X-Fresh-Metadata": "true"})
    assert "X-Object-Meta-Kind" not in tester("HEAD", f"{cont}/dst3").headers
    assert tester("COPY", f"{cont}/nosuch", headers={"Destination": f"{cont}/d"}).status_int \
        == 404
    assert tester("COPY", f"{cont}/src", headers={"Destination": "nodest"}).status_int == 412
    assert tester("GET", f"{cont}/d").status_int == 404


def test_if_none_match_star_refuses_overwrite(tester, cont):
    assert tester("PUT", f"{cont}/once", b"first", {"If-None-Match": "*"}).status_int == 201
    assert tester("PUT", f"{cont}/once", b"second", {"If-None-Match": "*"}).status_int == 412
    assert tester("GET", f"{cont}/once").body == b"first"


def test_utf8_metadata_counted_in_bytes(tester, cont, proxy_app):
    from webob import Request

    def put(name, value_bytes):
        req = Request.blank(f"/v1/AUTH_test/{cont}/{name}", method="PUT",
                            headers={"X-Auth-Token": tester.token})
        req.environ["HTTP_X_OBJECT_META_NOTE"] = value_bytes.decode("latin-1")
        req.body = b"u"
        return req.get_response(proxy_app)

    assert put("utf8-ok", "é".encode() * 128).status_int == 201  # 256 bytes
    assert tester("HEAD", f"{cont}/utf8-ok").headers["X-Object-Meta-Note"].encode("latin-1") \
        == "é".encode() * 128
    assert put("utf8-long", "é".encode() * 128 + b"x").status_int == 400
    assert put("utf8-bad", b"\xff\xfe").status_int == 201  # object values are bytes to Swift
    assert tester("HEAD", f"{cont}/utf8-long").status_int == 404


def test_client_sysmeta_is_dropped_not_stored(tester, cont):
    resp = tester("PUT", f"{cont}/sysmeta", b"payload",
                  {"X-Object-Sysmeta-Slo-Size": "1", "X-Object-Transient-Sysmeta-K": "v"})
    assert resp.status_int == 201  # as Swift's gatekeeper: dropped silently
    head = tester("HEAD", f"{cont}/sysmeta")
    assert not [name for name in head.headers if "sysmeta" in name.lower()]
    assert tester("GET", f"{cont}/sysmeta").body == b"payload"
