"""Fuzzing the proxy in-process on the real storage cluster: no bad input gets a 5xx.

Requests act as the owner of a fuzz account of their own (`AUTH_fuzz`, token signed like
the proxy signs them), so whatever they create stays out of the other tests' accounts. A
container with a plain object, an SLO and a DLO exists; the fuzzer breaks valid requests
of every kind (auth, listings, metadata, object PUT/GET/COPY, SLO and DLO) drawn by
`tests.shared.http_fuzz`.
"""
from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.tokens import issue_token
from tests.proxy.conftest import Client
from tests.shared.http_fuzz import (
    FUZZ_SETTINGS,
    FuzzRequest,
    FuzzSpec,
    assert_handled,
    classic_breakages,
    mutated,
)

ACCOUNT = "AUTH_fuzz"
V1 = f"/v1/{ACCOUNT}"


def spec(token: str, other: str) -> FuzzSpec:
    tokens = st.sampled_from([token, token, other, token + "x", "AUTH_tk" + "0" * 32])
    return FuzzSpec(
        segments=["c", "o", "slo", "dlo", ACCOUNT, "AUTH_test", "v1", "new"],
        header_names=[
            "X-Auth-Token", "X-Storage-Token", "X-Auth-User", "X-Auth-Key", "Range",
            "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since",
            "X-Copy-From", "X-Copy-From-Account", "Destination", "Destination-Account",
            "X-Object-Manifest", "X-Static-Large-Object", "X-Delete-At", "X-Delete-After",
            "X-Object-Meta-Colour", "X-Container-Read", "X-Container-Write",
            "X-Container-Meta-Colour", "X-Account-Meta-Colour", "Content-Type", "ETag",
            "X-Newest", "Transfer-Encoding", "Referer", "Content-Encoding",
            "Content-Disposition", "X-Fresh-Metadata", "X-Remove-Container-Meta-Colour",
            "X-Object-Sysmeta-Slo-Size", "X-Backend-Replication", "Accept", "Expect"],
        likely_values={
            "X-Auth-Token": tokens, "X-Storage-Token": tokens,
            "X-Copy-From": st.sampled_from(["c/o", "/c/slo", "c/dlo", "c/nope", "c"]),
            "Destination": st.sampled_from(["c/o2", "/c/o3", "c/slo", "c"]),
            "Destination-Account": st.sampled_from([ACCOUNT, "AUTH_test"]),
            "X-Object-Manifest": st.sampled_from(["c/", "c/o", "c/dlo", "c"]),
            "Range": st.sampled_from(["bytes=0-3", "bytes=-2", "bytes=5-", "bytes=2-1"]),
            "X-Auth-User": st.just("test:tester"), "X-Auth-Key": st.just("testing"),
            "X-Container-Read": st.sampled_from([".r:*", ".r:*,.rlistings", "test:tester"]),
        },
        query_keys=["multipart-manifest", "format", "limit", "marker", "end_marker",
                    "prefix", "delimiter", "reverse", "path", "heartbeat"],
        queries=["multipart-manifest=put", "multipart-manifest=get",
                 "multipart-manifest=delete", "format=json", "format=xml"],
        json_keys=["path", "etag", "size_bytes", "range", "data"],
        methods=["GET", "HEAD", "PUT", "POST", "DELETE", "COPY", "OPTIONS", "PATCH", "X"],
    )


def bases(token: str) -> list[FuzzRequest]:
    auth = {"X-Auth-Token": token}
    manifest = json.dumps([{"path": "/c/o", "etag": None, "size_bytes": 10},
                           {"path": "/c/slo", "etag": None, "size_bytes": None}]).encode()
    return [
        FuzzRequest("GET", "/auth/v1.0", "", {"X-Auth-User": "test:tester",
                                              "X-Auth-Key": "testing"}),
        FuzzRequest("GET", "/info"),
        FuzzRequest("GET", V1, "format=json&limit=2", auth),
        FuzzRequest("POST", V1, "", {**auth, "X-Account-Meta-Colour": "blue"}, b""),
        FuzzRequest("PUT", f"{V1}/new", "", auth, b""),
        FuzzRequest("GET", f"{V1}/c", "format=json&prefix=s&delimiter=/", auth),
        FuzzRequest("POST", f"{V1}/c", "", {**auth, "X-Container-Read": ".r:*"}, b""),
        FuzzRequest("DELETE", f"{V1}/new", "", auth),
        FuzzRequest("PUT", f"{V1}/c/new", "", {**auth, "Content-Type": "text/plain",
                                               "X-Object-Meta-Colour": "blue"}, b"hello"),
        FuzzRequest("GET", f"{V1}/c/o", "", {**auth, "Range": "bytes=1-4"}),
        FuzzRequest("HEAD", f"{V1}/c/o", "", {**auth, "If-None-Match": "*"}),
        FuzzRequest("POST", f"{V1}/c/o", "", {**auth, "X-Delete-After": "600"}, b""),
        FuzzRequest("COPY", f"{V1}/c/o", "", {**auth, "Destination": "c/o2"}),
        FuzzRequest("PUT", f"{V1}/c/o3", "", {**auth, "X-Copy-From": "c/slo"}, b""),
        FuzzRequest("PUT", f"{V1}/c/slo2", "multipart-manifest=put", auth, manifest),
        FuzzRequest("GET", f"{V1}/c/slo", "", {**auth, "Range": "bytes=2-5"}),
        FuzzRequest("GET", f"{V1}/c/slo", "multipart-manifest=get", auth),
        FuzzRequest("PUT", f"{V1}/c/dlo2", "", {**auth, "X-Object-Manifest": "c/o"}, b""),
        FuzzRequest("GET", f"{V1}/c/dlo", "", {**auth, "Range": "bytes=-3"}),
        FuzzRequest("DELETE", f"{V1}/c/slo2", "multipart-manifest=delete", auth),
    ]


@pytest.fixture(scope="module")
def fuzz_setup(proxy_app):
    secret = next(layer.token_secret for layer in proxy_app.layers
                  if hasattr(layer, "token_secret"))
    token = issue_token(secret, "fuzz", "fuzz:fuzzer", [".admin"])[0]
    owner = Client(proxy_app)
    owner.token, owner.account = token, ACCOUNT
    assert owner("PUT", "c").status_int in (201, 202)
    put = owner("PUT", "c/o", b"some bytes")
    assert put.status_int == 201
    manifest = json.dumps([{"path": "/c/o", "etag": put.headers["Etag"].strip('"'),
                            "size_bytes": 10}]).encode()
    assert owner("PUT", "c/slo?multipart-manifest=put", manifest).status_int == 201
    assert owner("PUT", "c/dlo", b"", {"X-Object-Manifest": "c/o"}).status_int == 201
    other = issue_token(secret, "test", "test:tester", [".admin"])[0]
    return bases(token), spec(token, other)


@FUZZ_SETTINGS
@given(data=st.data())
def test_proxy_answers_bad_input_below_500(proxy_app, fuzz_setup, data):
    base_requests, fuzz_spec = fuzz_setup
    assert_handled(proxy_app, data.draw(mutated(base_requests, fuzz_spec)))


def test_proxy_answers_classic_breakages_below_500(proxy_app, fuzz_setup):
    base_requests, _ = fuzz_setup
    for broken in classic_breakages(base_requests):
        assert_handled(proxy_app, broken)
