"""Fuzzing the object, container and account servers in-process: no bad input gets a 5xx.

Each app is built from a config the way the runner builds it, on real devices and SQLite,
with one existing object / container / account so requests reach real data. The fuzzer
breaks valid backend requests of every kind (object PUT/GET/POST/DELETE, row updates,
listings, replication verbs, recon) drawn by `tests.shared.http_fuzz`. Headers a server
would connect to (`X-Container-Host`, `X-Account-Host`) only ever name loopback.

Storage servers refuse unsigned requests (401), so every base request is signed with the
app's backend secret, and half of the broken ones are signed again after being broken: the
broken part then reaches the handler behind the signature check.

The one 5xx allowed is 507 for a device the node does not have: it is the node's state
(Swift's answer too), which the proxy relies on to error-limit a node.
"""
from __future__ import annotations

import msgpack
import pytest
from hypothesis import given
from hypothesis import strategies as st
from webob import Request

from common.backend_auth import AUTH_HEADER
from common.timestamp import Timestamp
from ring.hashing import PathHasher
from storage.databases import account_server, container_server
from storage.objects import server as object_server
from tests.shared.http_fuzz import (
    FUZZ_SETTINGS,
    FuzzRequest,
    FuzzSpec,
    assert_handled,
    classic_breakages,
    mutated,
)
from tests.storage import signing
from tests.storage.conftest import write_object_conf
from tests.storage.test_container_server import write_confs

LOOPBACK_HOSTS = ["127.0.0.1:1", "127.0.0.1", "127.0.0.1:99999", "127.0.0.1:x", "[::1]:1",
                  "", ",", "127.0.0.1:1,127.0.0.1:1", ":1"]
fresh_timestamp = st.builds(lambda: Timestamp.now().normal)
digits = st.integers(0, 2**64).map(str)
SPEC = FuzzSpec(
    segments=["sda", "1", "a", "c", "o", "recon", "async", "all", "diskusage", "abc"],
    header_names=[
        "X-Timestamp", "Content-Type", "X-Backend-Replication", "X-Backend-Replicate-Op",
        "X-Backend-Metadata-Length", "X-Backend-Source-Id", "Accept", "If-Match",
        "If-None-Match", "If-Modified-Since", "If-Unmodified-Since", "Range",
        "Transfer-Encoding", "X-Delete-At", "X-If-Delete-At", "ETag", "X-Object-Meta-Colour",
        "X-Container-Host", "X-Container-Device", "X-Container-Partition", "Content-Encoding",
        "X-Static-Large-Object", "X-Object-Manifest", "Content-Disposition",
        "X-Object-Sysmeta-Slo-Size", "X-Put-Timestamp", "X-Delete-Timestamp",
        "X-Object-Count", "X-Bytes-Used", "X-Size", "X-Content-Type", "X-Etag",
        "X-Account-Host", "X-Account-Device", "X-Account-Partition",
        "X-Container-Meta-Colour", "X-Account-Meta-Colour", "X-Container-Read",
        "X-Container-Write", "X-Container-Sysmeta-X"],
    fixed_values={"X-Container-Host": LOOPBACK_HOSTS, "X-Account-Host": LOOPBACK_HOSTS},
    likely_values={
        "X-Timestamp": fresh_timestamp, "X-Put-Timestamp": fresh_timestamp,
        "X-Delete-Timestamp": st.one_of(st.just("0"), fresh_timestamp),
        "X-Size": digits, "X-Object-Count": digits, "X-Bytes-Used": digits,
        "X-Backend-Metadata-Length": digits, "X-Delete-At": digits, "X-If-Delete-At": digits,
        "X-Backend-Replicate-Op": st.sampled_from(["sync", "merge_items", "copy", "list"]),
    },
    query_keys=["limit", "marker", "end_marker", "prefix", "delimiter", "format", "reverse",
                "path"],
    queries=["format=json", "format=xml", "prefix=o&delimiter=/", "limit=1&marker=a"],
    json_keys=[],
    methods=["GET", "HEAD", "PUT", "POST", "DELETE", "REPLICATE", "SYNC", "OPTIONS", "X"],
)


HASHER = PathHasher(b"test-prefix", b"test-suffix")  # the salts write_confs puts in brume.conf


def now() -> str:
    return Timestamp.now().normal


def resign(app, request_: FuzzRequest) -> FuzzRequest:
    """`request_` with a valid signature for `app` over what it now says."""
    signed = signing.sign(Request(request_.environ()), app.backend_auth)
    request_.headers[AUTH_HEADER] = signed.headers[AUTH_HEADER]
    return request_


def object_bases() -> list[FuzzRequest]:
    stamp = now()
    meta = msgpack.packb({"name": "/a/c/p", "X-Timestamp": stamp, "Content-Length": "2",
                          "ETag": "49f68a5c8493ec2c0bf489821c21fc3b",
                          "Content-Type": "text/plain"})
    return [
        FuzzRequest("PUT", "/sda/1/a/c/new", "", {
            "X-Timestamp": now(), "Content-Type": "text/plain", "X-Delete-At": "9999999999",
            "X-Container-Host": "127.0.0.1:1", "X-Container-Device": "sda",
            "X-Container-Partition": "1", "X-Object-Meta-Colour": "blue"}, b"hello"),
        FuzzRequest("GET", "/sda/1/a/c/o", "", {"Range": "bytes=1-3,5-6"}),
        FuzzRequest("HEAD", "/sda/1/a/c/o", "", {"If-Modified-Since":
                                                 "Thu, 01 Jan 1970 00:00:00 GMT"}),
        FuzzRequest("POST", "/sda/1/a/c/o", "", {"X-Timestamp": now(),
                                                 "X-Object-Meta-Colour": "red"}, b""),
        FuzzRequest("DELETE", "/sda/1/a/c/gone", "", {"X-Timestamp": now(),
                                                      "X-If-Delete-At": "1"}),
        FuzzRequest("REPLICATE", "/sda/1/abc", "", {"X-Backend-Replicate-Op": "list"}),
        FuzzRequest("SYNC", "/sda/1/" + "0" * 32 + f"/{stamp}.data", "", {
            "X-Backend-Metadata-Length": str(len(meta)), "X-Backend-Replication": "true"},
            meta + b"hi"),
        FuzzRequest("GET", "/recon/all"),
    ]


def db_bases(kind: str) -> list[FuzzRequest]:
    path = "/sda/1/a/c" if kind == "container" else "/sda/1/a"
    db_hash = HASHER.hash_path("a", "c" if kind == "container" else None)
    sync = msgpack.packb({"id": "x", "put_timestamp": now(), "delete_timestamp": "0",
                          "metadata": {}, "max_row": 1})
    requests_ = [
        FuzzRequest("PUT", path, "", {"X-Timestamp": now(), "X-Account-Host": "127.0.0.1:1",
                                      "X-Account-Device": "sda", "X-Account-Partition": "1"}),
        FuzzRequest("GET", path, "format=json&prefix=o&delimiter=/&limit=5", {}),
        FuzzRequest("HEAD", path),
        FuzzRequest("POST", path, "", {"X-Timestamp": now(), f"X-{kind.title()}-Meta-A": "b"}),
        FuzzRequest("DELETE", "/sda/1/a/other" if kind == "container" else "/sda/1/other", "",
                    {"X-Timestamp": now()}),
        FuzzRequest("REPLICATE", f"/sda/1/{db_hash}", "", {"X-Backend-Replicate-Op": "sync"},
                    sync),
    ]
    if kind == "container":
        requests_.append(FuzzRequest("PUT", "/sda/1/a/c/o", "", {
            "X-Timestamp": now(), "X-Size": "3", "X-Content-Type": "text/plain",
            "X-Etag": "d41d8cd98f00b204e9800998ecf8427e"}))
        requests_.append(FuzzRequest("DELETE", "/sda/1/a/c/o", "", {"X-Timestamp": now()}))
    else:
        requests_.append(FuzzRequest("PUT", "/sda/1/a/c", "", {
            "X-Put-Timestamp": now(), "X-Delete-Timestamp": "0", "X-Object-Count": "1",
            "X-Bytes-Used": "3"}))
    return requests_


@pytest.fixture(scope="module")
def object_app(tmp_path_factory):
    _conf_dir, _devices, conf_path = write_object_conf(tmp_path_factory.mktemp("fuzz-obj"))
    app = object_server.make_app(conf_path)
    put = signing.blank(app.backend_auth, "/sda/1/a/c/o", "PUT", body=b"existing", headers={
        "X-Timestamp": now(), "Content-Type": "text/plain"})
    assert put.get_response(app).status_int == 201
    return app


def _db_app(tmp_path_factory, kind, module, path):
    conf_path, _ = write_confs(tmp_path_factory.mktemp(f"fuzz-{kind}"), kind)
    app = module.make_app(conf_path)
    put = signing.blank(app.backend_auth, path, "PUT", headers={"X-Timestamp": now()})
    assert put.get_response(app).status_int in (201, 202)
    return app


@pytest.fixture(scope="module")
def container_app(tmp_path_factory):
    return _db_app(tmp_path_factory, "container", container_server, "/sda/1/a/c")


@pytest.fixture(scope="module")
def account_app(tmp_path_factory):
    return _db_app(tmp_path_factory, "account", account_server, "/sda/1/a")


def check(app, request_) -> None:
    response = assert_handled(app, request_, allow={507})
    if response.status_int == 507:
        assert not request_.path.startswith("/sda/"), request_


APPS = {"object": ("object_app", object_bases), "container": ("container_app",
                                                             lambda: db_bases("container")),
        "account": ("account_app", lambda: db_bases("account"))}


@pytest.mark.parametrize("kind", sorted(APPS))
@FUZZ_SETTINGS
@given(data=st.data())
def test_storage_server_answers_bad_input_below_500(request, kind, data):
    fixture, bases = APPS[kind]
    app = request.getfixturevalue(fixture)
    request_ = data.draw(mutated([resign(app, base) for base in bases()], SPEC))
    if data.draw(st.booleans()):
        request_ = resign(app, request_)
    check(app, request_)


@pytest.mark.parametrize("kind", sorted(APPS))
def test_storage_server_answers_classic_breakages_below_500(request, kind):
    fixture, bases = APPS[kind]
    app = request.getfixturevalue(fixture)
    for broken in classic_breakages([resign(app, base) for base in bases()]):
        check(app, broken)
        check(app, resign(app, broken))
