"""The object server behind a real eventlet WSGI server on loopback: a corrupt object's GET is
cut (never a clean end), and a client that disconnects mid-PUT leaves nothing behind."""
from __future__ import annotations

import http.client
import os
import socket
import threading
import time

import pytest

from common.green import eventlet
from common.timestamp import Timestamp
from common.wsgi_server import healthcheck_middleware
from storage.objects.reader import READ_SIZE
from tests.storage.signing import signed_headers


def wait_until(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        threading.Event().wait(0.02)
    return predicate()


@pytest.fixture
def served(object_env):
    sock = eventlet.listen(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = healthcheck_middleware(object_env.app)
    thread = threading.Thread(
        target=eventlet.wsgi.server,
        kwargs={"sock": sock, "site": app, "log_output": False, "debug": False},
        daemon=True,
    )
    thread.start()
    return object_env, port


def signed(env, method, path, headers=None):
    """Headers for a request over the wire, signed with the env's backend secret."""
    return signed_headers(env.app.backend_auth, method, path, headers)


def object_files(env):
    return [f for f in env.files() if f.startswith("objects/") and not f.endswith(
        ("hashes.invalid", ".lock"))]


def test_wire_round_trip_and_healthcheck(served):
    env, port = served
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/healthcheck")
    assert conn.getresponse().read() == b"OK"
    body = os.urandom(300_000)
    conn.request("PUT", "/sda/1/a/c/o", body=body, headers=signed(env, "PUT", "/sda/1/a/c/o", {
        "X-Timestamp": Timestamp.now().normal, "Content-Type": "x/y"}))
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 201
    conn.request("GET", "/sda/1/a/c/o", headers=signed(env, "GET", "/sda/1/a/c/o"))
    resp = conn.getresponse()
    assert resp.status == 200 and resp.read() == body
    conn.close()


@pytest.mark.parametrize("size, flip_at", [
    (200_000, 150_000),  # in the first span read: refused before any byte (proxy fails over)
    (2 * READ_SIZE + 200_000, 2 * READ_SIZE + 150_000),  # later: the stream is cut
])
def test_corrupt_object_get_is_cut_and_quarantined(served, size, flip_at):
    env, port = served
    body = os.urandom(size)
    assert env.put(body=body).status_int == 201
    [data] = [f for f in object_files(env) if f.endswith(".data")]
    path = os.path.join(env.devices, "sda", data)
    with open(path, "r+b") as handle:
        handle.seek(flip_at)
        handle.write(bytes([body[flip_at] ^ 0xFF]))
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/sda/1/a/c/o", headers=signed(env, "GET", "/sda/1/a/c/o"))
    resp = conn.getresponse()
    if flip_at < READ_SIZE:
        assert resp.status == 500
        assert body[:64] not in resp.read()
    else:
        assert resp.status == 200
        with pytest.raises(http.client.IncompleteRead) as info:
            resp.read()
        assert info.value.partial == body[:len(info.value.partial)]  # no wrong byte went out
        assert len(info.value.partial) <= flip_at - flip_at % 65536
    conn.close()
    assert wait_until(lambda: not os.path.exists(os.path.dirname(path)))
    quarantined = os.path.join(env.devices, "sda", "quarantined", "objects")
    assert os.listdir(quarantined) == [os.path.basename(os.path.dirname(path))]
    assert env.request("/sda/1/a/c/o").status_int == 404


def test_ranged_get_over_the_wire(served):
    env, port = served
    assert env.put(body=b"a" * 1000).status_int == 201
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    conn.request("GET", "/sda/1/a/c/o",
                 headers=signed(env, "GET", "/sda/1/a/c/o", {"Range": "bytes=0-9"}))
    resp = conn.getresponse()
    assert resp.status == 206 and resp.read() == b"a" * 10
    conn.close()


def test_client_disconnect_mid_put_leaves_nothing(served):
    env, port = served
    client = socket.create_connection(("127.0.0.1", port), timeout=5)
    head = signed(env, "PUT", "/sda/1/a/c/o", {"Content-Length": "1000000",
                                               "X-Timestamp": Timestamp.now().normal})
    client.sendall(
        b"PUT /sda/1/a/c/o HTTP/1.1\r\nHost: x\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in head.items()).encode()
        + b"\r\n" + b"p" * 70_000
    )
    tmp_dir = os.path.join(env.devices, "sda", "tmp")
    assert wait_until(lambda: os.path.isdir(tmp_dir) and os.listdir(tmp_dir))
    client.close()
    assert wait_until(lambda: os.listdir(tmp_dir) == [])
    assert object_files(env) == []
    assert env.request("/sda/1/a/c/o").status_int == 404


def test_corrupt_first_block_is_an_error_not_bytes(served):
    env, port = served
    body = os.urandom(1000)
    assert env.put(body=body).status_int == 201
    [data] = [f for f in object_files(env) if f.endswith(".data")]
    path = os.path.join(env.devices, "sda", data)
    with open(path, "r+b") as handle:
        handle.write(bytes([body[0] ^ 0xFF]))
    for headers in ({}, {"Range": "bytes=500-600"}):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        conn.request("GET", "/sda/1/a/c/o", headers=signed(env, "GET", "/sda/1/a/c/o", headers))
        resp = conn.getresponse()
        payload = resp.read()
        conn.close()
        assert resp.status in (404, 500)
        assert body[500:600] not in payload and body[1:200] not in payload
    assert not os.path.exists(os.path.dirname(path))
