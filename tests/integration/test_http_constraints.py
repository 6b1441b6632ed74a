"""Every constraint end to end over raw HTTP: names, UTF-8, metadata limits, sizes, body
framing, ETags, expiry headers, listing limits. Each test sends the bad request, checks the
status, and checks that nothing changed (no object, no container, old data and metadata)."""
from __future__ import annotations

import hashlib

import pytest

from common import constraints
from tests.integration.httpraw import request, send_raw, status_line

pytestmark = pytest.mark.cluster


class Account:
    """Raw requests as test:tester on its own account, with a fresh container."""

    def __init__(self, cluster, container: str):
        self.token, self.url = cluster.auth("test:tester")
        self.container = container
        assert self.put(f"/{container}").status in (201, 202)
        assert self.put(f"/{container}/existing", b"old bytes",
                        {"X-Object-Meta-Keep": "yes"}).status == 201

    def call(self, method, path, body=None, headers=None):
        merged = {"X-Auth-Token": self.token, **(headers or {})}
        return request(self.url, method, merged, body, path=path)

    def put(self, path, body=b"", headers=None):
        return self.call("PUT", path, body, headers)

    def obj(self, name):
        return f"/{self.container}/{name}"

    def absent(self, path) -> bool:
        return self.call("HEAD", path).status == 404

    def listing(self) -> list[str]:
        reply = self.call("GET", f"/{self.container}?format=plain")
        return reply.body.decode().split()

    def existing_intact(self) -> bool:
        reply = self.call("GET", self.obj("existing"))
        return (reply.status, reply.body, reply.headers.get("x-object-meta-keep")) == (
            200, b"old bytes", "yes")


@pytest.fixture
def acct(cluster, name):
    return Account(cluster, name("cons"))


def test_object_name_too_long(acct):
    long_name = "o" * (constraints.MAX_OBJECT_NAME_LENGTH + 1)
    assert acct.put(acct.obj(long_name), b"x").status == 400
    assert acct.put(acct.obj("o" * constraints.MAX_OBJECT_NAME_LENGTH), b"x").status == 201
    assert acct.listing() == ["existing", "o" * constraints.MAX_OBJECT_NAME_LENGTH]


def test_container_name_too_long(acct):
    long_name = "c" * (constraints.MAX_CONTAINER_NAME_LENGTH + 1)
    assert acct.put(f"/{long_name}").status == 400
    assert acct.call("HEAD", f"/{long_name}").status in (400, 404)
    listing = acct.call("GET", "?format=plain").body.decode().split()
    assert long_name not in listing


@pytest.mark.parametrize("raw_name", ["bad%FFname", "nul%00name", "%C0%AF"])
def test_invalid_utf8_or_nul_names(acct, raw_name):
    assert acct.put(acct.obj(raw_name), b"x").status == 412
    assert acct.put(f"/{raw_name}").status == 412
    assert acct.listing() == ["existing"]


@pytest.mark.parametrize("headers", [
    {"X-Object-Meta-" + "n" * (constraints.MAX_META_NAME_LENGTH + 1): "v"},
    {"X-Object-Meta-Big": "v" * (constraints.MAX_META_VALUE_LENGTH + 1)},
    {f"X-Object-Meta-K{i}": "v" for i in range(constraints.MAX_META_COUNT + 1)},
    {f"X-Object-Meta-K{i}": "v" * 250 for i in range(20)},  # > 4096 bytes overall
], ids=["name-too-long", "value-too-long", "too-many", "too-big-overall"])
def test_object_metadata_limits(acct, headers):
    assert acct.put(acct.obj("new"), b"x", headers).status == 400
    assert acct.absent(acct.obj("new"))
    assert acct.call("POST", acct.obj("existing"), headers=headers).status == 400
    assert acct.existing_intact()


def test_metadata_at_the_limits_is_accepted(acct):
    headers = {"X-Object-Meta-" + "n" * constraints.MAX_META_NAME_LENGTH: "v",
               "X-Object-Meta-V": "v" * constraints.MAX_META_VALUE_LENGTH}
    assert acct.put(acct.obj("edge"), b"x", headers).status == 201


def test_container_and_account_metadata_limits(acct, name):
    too_long = {"X-Container-Meta-Big": "v" * (constraints.MAX_META_VALUE_LENGTH + 1)}
    fresh = name("meta")
    assert acct.put(f"/{fresh}", headers=too_long).status == 400
    assert acct.call("HEAD", f"/{fresh}").status == 404
    assert acct.call("POST", f"/{acct.container}", headers=too_long).status == 400
    assert "x-container-meta-big" not in acct.call("HEAD", f"/{acct.container}").headers
    many = {f"X-Account-Meta-K{i}": "v" for i in range(constraints.MAX_META_COUNT + 1)}
    assert acct.call("POST", "", headers=many).status == 400
    assert "x-account-meta-k0" not in acct.call("HEAD", "").headers


def test_object_larger_than_max_file_size(acct):
    too_big = str(constraints.MAX_FILE_SIZE + 1)
    reply = acct.call("PUT", acct.obj("huge"), None, {"Content-Length": too_big})
    assert reply.status == 413
    assert acct.absent(acct.obj("huge"))


def test_put_without_length_is_411(acct):
    path = "/".join(acct.url.split("/")[3:])
    answer = send_raw(acct.url, (
        f"PUT /{path}{acct.obj('nolength')} HTTP/1.1\r\nHost: x\r\n"
        f"X-Auth-Token: {acct.token}\r\nConnection: close\r\n\r\n").encode())
    assert status_line(answer) == 411
    assert acct.absent(acct.obj("nolength"))


@pytest.mark.parametrize("length", ["-1", "abc", "1.5"])
def test_bad_content_length_is_400(acct, length):
    path = "/".join(acct.url.split("/")[3:])
    answer = send_raw(acct.url, (
        f"PUT /{path}{acct.obj('badlength')} HTTP/1.1\r\nHost: x\r\n"
        f"X-Auth-Token: {acct.token}\r\nContent-Length: {length}\r\n"
        "Connection: close\r\n\r\n").encode(), b"x")
    assert status_line(answer) == 400
    assert acct.absent(acct.obj("badlength"))


def test_etag_mismatch_is_422_and_keeps_old_data(acct):
    wrong = hashlib.md5(b"other").hexdigest()
    reply = acct.put(acct.obj("existing"), b"new bytes", {"ETag": wrong})
    assert reply.status == 422
    assert acct.existing_intact()
    reply = acct.put(acct.obj("fresh"), b"new bytes", {"ETag": "0" * 32})
    assert reply.status == 422
    assert acct.absent(acct.obj("fresh"))


def test_matching_etag_is_accepted(acct):
    body = b"verified"
    reply = acct.put(acct.obj("ok"), body, {"ETag": hashlib.md5(body).hexdigest()})
    assert reply.status == 201
    assert reply.headers["etag"].strip('"') == hashlib.md5(body).hexdigest()


def test_short_body_stores_nothing(acct):
    path = "/".join(acct.url.split("/")[3:])
    send_raw(acct.url, (
        f"PUT /{path}{acct.obj('short')} HTTP/1.1\r\nHost: x\r\n"
        f"X-Auth-Token: {acct.token}\r\nContent-Length: 100000\r\n\r\n").encode(),
        b"only a few bytes", half_close=True, timeout=15)
    assert acct.absent(acct.obj("short"))
    assert "short" not in acct.listing()
    send_raw(acct.url, (
        f"PUT /{path}{acct.obj('existing')} HTTP/1.1\r\nHost: x\r\n"
        f"X-Auth-Token: {acct.token}\r\nContent-Length: 100000\r\n\r\n").encode(),
        b"truncated overwrite", half_close=True, timeout=15)
    assert acct.existing_intact()


def test_bad_chunked_body_stores_nothing(acct):
    path = "/".join(acct.url.split("/")[3:])
    answer = send_raw(acct.url, (
        f"PUT /{path}{acct.obj('badchunk')} HTTP/1.1\r\nHost: x\r\n"
        f"X-Auth-Token: {acct.token}\r\nTransfer-Encoding: chunked\r\n\r\n").encode(),
        b"5\r\nhello\r\nZZ\r\nnot hex\r\n", half_close=True, timeout=15)
    assert status_line(answer) in (None, 400, 499)
    assert acct.absent(acct.obj("badchunk"))


@pytest.mark.parametrize("headers", [
    {"X-Delete-At": "1"},
    {"X-Delete-At": "not-a-time"},
    {"X-Delete-After": "-5"},
    {"X-Delete-After": "soon"},
])
def test_bad_expiry_headers(acct, headers):
    assert acct.put(acct.obj("expiring"), b"x", headers).status == 400
    assert acct.absent(acct.obj("expiring"))
    assert acct.call("POST", acct.obj("existing"), headers=headers).status == 400
    assert acct.existing_intact()
    assert "x-delete-at" not in acct.call("HEAD", acct.obj("existing")).headers


def test_object_into_missing_container_is_404(acct, name):
    missing = name("nocontainer")
    assert acct.put(f"/{missing}/obj", b"x").status == 404
    assert acct.call("HEAD", f"/{missing}").status == 404


def test_listing_limit_above_maximum_is_412(acct):
    limit = constraints.CONTAINER_LISTING_LIMIT + 1
    assert acct.call("GET", f"/{acct.container}?limit={limit}").status == 412
    assert acct.call("GET", f"?limit={constraints.ACCOUNT_LISTING_LIMIT + 1}").status == 412
    assert acct.call("GET", f"/{acct.container}?limit=1").status == 200


def test_header_line_too_long(acct):
    reply = acct.put(acct.obj("bighdr"), b"x", {"X-Object-Meta-A": "v" * 9000})
    assert reply.status in (400, 431)
    assert acct.absent(acct.obj("bighdr"))


def test_delete_nonempty_container_is_409(acct):
    assert acct.call("DELETE", f"/{acct.container}").status == 409
    assert acct.existing_intact()


def test_unknown_method_and_bad_paths(acct):
    assert acct.call("PATCH", acct.obj("existing"), b"x").status in (405, 501)
    assert acct.existing_intact()
    bare = request(acct.url.rsplit("/v1/", 1)[0], "GET", {"X-Auth-Token": acct.token},
                   path="/v1/")
    assert bare.status in (400, 404, 412)


@pytest.mark.parametrize("source", ["no-slash", "/", "//x"])
def test_bad_copy_source_is_412(acct, source):
    reply = acct.put(acct.obj("copied"), b"", {"X-Copy-From": source})
    assert reply.status == 412
    assert acct.absent(acct.obj("copied"))


def test_copy_from_missing_object_is_404(acct):
    reply = acct.put(acct.obj("copied"), b"", {"X-Copy-From": f"/{acct.container}/nothing"})
    assert reply.status == 404
    assert acct.absent(acct.obj("copied"))


def test_account_name_too_long_for_the_admin(cluster, acct):
    admin = cluster.token("admin:admin")
    long_account = "AUTH_" + "a" * constraints.MAX_ACCOUNT_NAME_LENGTH
    base = acct.url.rsplit("/", 1)[0]
    reply = request(base, "PUT", {"X-Auth-Token": admin}, path=f"/{long_account}/c")
    assert reply.status == 400
    assert request(base, "HEAD", {"X-Auth-Token": admin},
                   path=f"/{long_account}/c").status in (400, 404)
