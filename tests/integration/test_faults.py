"""Fault tests on the real cluster: object servers SIGKILLed under live traffic.

One object server down: PUT and GET still succeed, the missing replica goes to a handoff.
Two down (of four, with handoffs) the proxy still finds a quorum of two; three down a PUT
answers 503. Whatever is down, a GET returns the exact bytes or fails visibly: never a
truncated or altered body with a clean end. Every test restarts what it killed.
"""
from __future__ import annotations

import glob
import hashlib
import http.client
import os
import signal
import urllib.parse

import pytest

from tests.integration.httpraw import request

pytestmark = pytest.mark.cluster

ACCOUNT = "AUTH_test"


@pytest.fixture
def target(cluster, name):
    """(token, storage_url, container) for account test, container created.

    The proxy is restarted first: error limiting is per proxy process, so a node an earlier
    test killed would otherwise still be avoided (by design), making where replicas land
    depend on test order.
    """
    cluster.kill_service("proxy", signal.SIGTERM)
    cluster.start_service("proxy")
    token, url = cluster.auth("test:tester")
    container = name("fault")
    assert request(url, "PUT", {"X-Auth-Token": token}, path=f"/{container}").status in (201, 202)
    return token, url, container


def put(url, token, path, body):
    return request(url, "PUT", {"X-Auth-Token": token}, body, path=path)


def get(url, token, path):
    return request(url, "GET", {"X-Auth-Token": token}, path=path)


def data_files(location) -> list[str]:
    return glob.glob(os.path.join(location.hash_dir, "*.data"))


def read_fully_or_fail(url: str, token: str, path: str, kill_after_first_chunk=None):
    """GET `path`; return the body only if the response ended cleanly, else None.

    `kill_after_first_chunk` is called after the first 1 MiB arrived (to break servers
    mid-stream). A clean end means: Content-Length honoured, or the chunked terminator read.
    """
    parts = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        conn.request("GET", parts.path + path, headers={"X-Auth-Token": token})
        response = conn.getresponse()
        if response.status != 200:
            response.read()
            return None
        first = response.read(1 << 20)
        if kill_after_first_chunk is not None:
            kill_after_first_chunk()
        rest = response.read()
        return first + rest
    except (http.client.IncompleteRead, OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def test_one_object_server_down_put_and_get_succeed(cluster, target):
    token, url, container = target
    obj = "one-down"
    body = os.urandom(256 * 1024)
    primaries = cluster.object_paths(ACCOUNT, container, obj, handoffs=1)
    victim, handoff = primaries[0], primaries[-1]
    assert not handoff.primary
    with cluster.server_down(victim.node, "object"):
        reply = put(url, token, f"/{container}/{obj}", body)
        assert reply.status == 201
        assert reply.headers["etag"].strip('"') == hashlib.md5(body).hexdigest()
        got = get(url, token, f"/{container}/{obj}")
        assert (got.status, got.body) == (200, body)
        # The missing primary's replica went to the handoff; the live primaries have theirs.
        assert data_files(handoff), "no replica written to the handoff"
        for location in primaries[1:-1]:
            assert data_files(location), f"no replica on primary node {location.node}"
        assert not data_files(victim)
        # Objects written before the failure are still served.
        before = put(url, token, f"/{container}/other", b"x")
        assert before.status == 201
        assert get(url, token, f"/{container}/other").body == b"x"
    got = get(url, token, f"/{container}/{obj}")
    assert (got.status, got.body) == (200, body)


def test_get_is_served_when_the_first_primary_is_dead(cluster, target):
    token, url, container = target
    obj = "written-before"
    body = os.urandom(100_000)
    assert put(url, token, f"/{container}/{obj}", body).status == 201
    for location in cluster.object_paths(ACCOUNT, container, obj)[:2]:
        with cluster.server_down(location.node, "object"):
            got = get(url, token, f"/{container}/{obj}")
            assert (got.status, got.body) == (200, body)


def test_two_then_three_object_servers_down(cluster, target):
    token, url, container = target
    obj = "two-down"
    body = os.urandom(200_000)
    assert put(url, token, f"/{container}/old", b"old").status == 201
    locations = cluster.object_paths(ACCOUNT, container, obj, handoffs=1)
    first, second, third = (loc.node for loc in locations[:3])
    with cluster.server_down(first, "object"), cluster.server_down(second, "object"):
        # Two of four left: one primary and the handoff still make a quorum of two.
        reply = put(url, token, f"/{container}/{obj}", body)
        assert reply.status in (201, 503)
        got = get(url, token, f"/{container}/{obj}")
        if reply.status == 201:
            assert (got.status, got.body) == (200, body)
        else:
            assert got.status != 200 or got.body == body
        with cluster.server_down(third, "object"):
            reply = put(url, token, f"/{container}/three-down", b"y" * 1000)
            assert reply.status == 503
            # Unacknowledged, the lone replica may be served, but only whole.
            for path, expected in ((f"/{container}/{obj}", body),
                                   (f"/{container}/old", b"old"),
                                   (f"/{container}/three-down", b"y" * 1000)):
                got = get(url, token, path)
                assert got.status != 200 or got.body == expected
    assert get(url, token, f"/{container}/old").body == b"old"
    got = get(url, token, f"/{container}/three-down")  # unacknowledged: absent or whole
    assert got.status == 404 or got.body == b"y" * 1000


def test_get_broken_mid_stream_never_serves_wrong_bytes(cluster, target):
    token, url, container = target
    obj = "mid-stream"
    body = os.urandom(24 * 1024 * 1024)
    assert put(url, token, f"/{container}/{obj}", body).status == 201
    locations = cluster.object_paths(ACCOUNT, container, obj)

    def kill_two():
        cluster.kill_server(locations[0].node, "object")
        cluster.kill_server(locations[1].node, "object")

    try:
        got = read_fully_or_fail(url, token, f"/{container}/{obj}", kill_two)
        assert got is None or got == body  # resumed from the survivor, or a visible failure
    finally:
        cluster.start_server(locations[0].node, "object")
        cluster.start_server(locations[1].node, "object")

    def kill_all():
        for location in locations:
            cluster.kill_server(location.node, "object")

    try:
        got = read_fully_or_fail(url, token, f"/{container}/{obj}", kill_all)
        assert got is None or got == body
    finally:
        for location in locations:
            cluster.start_server(location.node, "object")
    got = get(url, token, f"/{container}/{obj}")
    assert got.status == 200 and hashlib.md5(got.body).digest() == hashlib.md5(body).digest()
