"""Swift's core API details end to end, as Swift's functional suite expects them: listings
(`path=`, multi-character delimiters, container Last-Modified), conditional and ranged GETs,
POST of a Content-Type, COPY of a range, and the exact answers to malformed paths and
headers (each checked to change nothing)."""
from __future__ import annotations

import email.utils
import hashlib
import json
import time

import pytest

from tests.integration.httpraw import request

pytestmark = pytest.mark.cluster


class Client:
    """Raw requests as test:tester, with a fresh container."""

    def __init__(self, cluster, container: str):
        self.token, self.url = cluster.auth("test:tester")
        self.container = container
        assert self.call("PUT", f"/{container}").status in (201, 202)

    def call(self, method, path, body=None, headers=None, token=True):
        merged = {"X-Auth-Token": self.token} if token else {}
        merged.update(headers or {})
        return request(self.url, method, merged, body, path=path)

    def obj(self, name: str) -> str:
        return f"/{self.container}/{name}"

    def listing(self, query: str = "format=json"):
        reply = self.call("GET", f"/{self.container}?{query}")
        assert reply.status in (200, 204), reply
        return json.loads(reply.body) if "json" in query else reply.body.decode().split()


@pytest.fixture
def client(cluster, name):
    return Client(cluster, name("core"))


def test_container_last_modified_follows_put_and_post_not_objects(client):
    first = client.call("HEAD", f"/{client.container}").headers["last-modified"]
    time.sleep(1.1)  # Last-Modified has whole seconds
    assert client.call("POST", f"/{client.container}",
                       headers={"X-Container-Meta-A": "b"}).status == 204
    after_post = client.call("HEAD", f"/{client.container}").headers["last-modified"]
    assert email.utils.parsedate_to_datetime(after_post) > \
        email.utils.parsedate_to_datetime(first)
    assert client.call("PUT", client.obj("o"), b"x").status == 201
    assert client.call("HEAD", f"/{client.container}").headers["last-modified"] == after_post


def test_path_and_multi_character_delimiter_listings(client):
    for name in ("d/", "d/f", "d/sub/", "d/sub/g", "x-&y", "x-&z", "x"):
        assert client.call("PUT", client.obj(name), b"").status == 201
    assert client.listing("path=d") == ["d/f", "d/sub/"]
    assert client.listing("delimiter=-%26") == ["d/", "d/f", "d/sub/", "d/sub/g", "x", "x-&"]
    assert client.listing("limit=5000.0") == client.listing("")  # ignored, as Swift


def test_post_content_type_reaches_the_listing(client):
    assert client.call("PUT", client.obj("typed"), b"abc",
                       {"Content-Type": "text/foobar"}).status == 201
    before = client.listing()[0]["last_modified"]
    assert client.call("POST", client.obj("typed"),
                       headers={"Content-Type": "image/foobarbaz"}).status == 202
    assert client.call("HEAD", client.obj("typed")).headers["content-type"] == \
        "image/foobarbaz"
    row = client.listing()[0]
    assert (row["content_type"], row["bytes"]) == ("image/foobarbaz", 3)
    assert row["hash"] == hashlib.md5(b"abc").hexdigest()
    assert row["last_modified"] > before


def test_conditional_and_ranged_reads(client):
    put = client.call("PUT", client.obj("r"), b"0123456789")
    last_modified, etag = put.headers["last-modified"], put.headers["etag"]
    assert client.call("GET", client.obj("r"),
                       headers={"If-Modified-Since": last_modified}).status == 304
    yesterday = email.utils.formatdate(time.time() - 86400, usegmt=True)
    assert client.call("GET", client.obj("r"), headers={
        "If-Match": etag, "If-Unmodified-Since": yesterday}).status == 412
    unsatisfiable = client.call("GET", client.obj("r"), headers={"Range": "bytes=-0"})
    assert unsatisfiable.status == 416
    assert unsatisfiable.headers["etag"] == etag
    assert unsatisfiable.headers["content-range"] == "bytes */10"


def test_copy_of_a_range(client):
    assert client.call("PUT", client.obj("src"), b"0123456789").status == 201
    copied = client.call("COPY", client.obj("src"), headers={
        "Destination": f"{client.container}/part", "Range": "bytes=2-4"})
    assert copied.status == 201
    assert client.call("GET", client.obj("part")).body == b"234"


def test_malformed_paths_get_swifts_answers(client):
    version_only = request(client.url.split("/v1/")[0], "PUT",
                           {"X-Auth-Token": client.token}, b"", path="/v1")
    assert (version_only.status, version_only.body) == (412, b"Bad URL")
    nul = client.call("PUT", client.obj("abc%00def"), b"x")
    assert (nul.status, nul.body) == (412, b"Invalid UTF8 or contains NULL")
    assert nul.headers["content-type"] == "text/html; charset=UTF-8"
    assert client.listing() == []
    anonymous = client.call("GET", f"/{client.container}", token=False)
    assert anonymous.status == 401
    assert anonymous.headers["www-authenticate"].startswith('Swift realm="AUTH_')


@pytest.mark.parametrize("headers,reason", [
    ({"X-Delete-At": "*"}, b"Non-integer X-Delete-At"),
    ({"X-Delete-After": "*"}, b"Non-integer X-Delete-After"),
    ({"X-Delete-At": "0"}, b"X-Delete-At in past"),
    ({"If-None-Match": "something"}, None),
])
def test_bad_write_headers_change_nothing(client, headers, reason):
    reply = client.call("PUT", client.obj("bad"), b"x", headers)
    assert reply.status == 400
    if reason is not None:
        assert reply.body == reason
    assert client.call("HEAD", client.obj("bad")).status == 404


def test_write_headers_swift_accepts(client):
    assert client.call("PUT", client.obj("far"), b"x", {"X-Delete-At": "1" * 100}).status == 201
    assert client.call("HEAD", client.obj("far")).headers["x-delete-at"] == "9999999999"
    assert client.call("PUT", client.obj("sys"), b"x", {
        "X-Object-Meta-Color": "Red", "X-Object-Sysmeta-Color": "Green"}).status == 201
    head = client.call("HEAD", client.obj("sys")).headers
    assert head["x-object-meta-color"] == "Red" and "x-object-sysmeta-color" not in head
    bad_if_delete_at = client.call("DELETE", client.obj("sys"),
                                   headers={"X-If-Delete-At": "bad"})
    assert bad_if_delete_at.status == 400
    assert client.call("HEAD", client.obj("sys")).status == 200
    deleted = client.call("DELETE", client.obj("sys"))
    assert deleted.status == 204
    assert deleted.headers["content-type"] == "text/html; charset=UTF-8"


def test_a_post_without_content_type_keeps_the_objects_type(client):
    assert client.call("PUT", client.obj("typed"), b"png", {"Content-Type": "image/png"}) \
        .status == 201
    assert client.call("POST", client.obj("typed"), headers={"X-Object-Meta-A": "b"}).status \
        == 202
    assert client.call("HEAD", client.obj("typed")).headers["content-type"] == "image/png"
    assert [row["content_type"] for row in client.listing()] == ["image/png"]
