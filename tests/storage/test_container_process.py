"""The container server as a real process (common.wsgi_server), many clients at once."""
from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import threading
import time

import pytest

from common.backend_auth import load_backend_auth
from tests.integration.support import free_port
from tests.storage.signing import signed_headers
from tests.storage.test_container_server import write_confs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def call(server, method, path, headers=None):
    port, auth = server
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path, headers=signed_headers(auth, method, path, headers))
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def wait_until(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        threading.Event().wait(0.05)
    return False


@pytest.fixture
def server(tmp_path):
    conf_path, _ = write_confs(tmp_path, "container")
    auth = load_backend_auth(os.path.join(str(tmp_path), "conf"))
    port = free_port()
    text = open(conf_path).read().replace("bind_port = 0", f"bind_port = {port}")
    with open(conf_path, "w") as handle:
        handle.write(text)
    proc = subprocess.Popen([sys.executable, "-m", "common.wsgi_server", conf_path], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def healthy():
        try:
            return call((port, auth), "GET", "/healthcheck")[0] == 200
        except OSError:
            return False

    assert wait_until(healthy), "container server did not start"
    yield port, auth
    proc.terminate()
    proc.wait(10)


def test_concurrent_row_updates_are_all_durable(server):
    port, auth = server
    status, _, _ = call(server, "PUT", "/sda/0/AUTH_a/c", {"X-Timestamp": f"{time.time():.5f}"})
    assert status == 201
    failures = []

    def client(index: int):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for i in range(25):
            path = f"/sda/0/AUTH_a/c/t{index:02d}-{i:02d}"
            conn.request("PUT", path, headers=signed_headers(auth, "PUT", path, {
                "X-Timestamp": f"{time.time():.5f}", "X-Size": "10",
                "X-Content-Type": "text/plain", "X-Etag": "e", "Content-Length": "0"}))
            resp = conn.getresponse()
            resp.read()
            if resp.status != 201:
                failures.append(resp.status)
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    status, headers, _ = call(server, "HEAD", "/sda/0/AUTH_a/c")
    assert status == 204
    assert headers["X-Container-Object-Count"] == "300"
    assert headers["X-Container-Bytes-Used"] == "3000"
    status, _, body = call(server, "GET", "/sda/0/AUTH_a/c?format=json&prefix=t05-&limit=3")
    assert [e["name"] for e in json.loads(body)] == ["t05-00", "t05-01", "t05-02"]


def test_utf8_metadata_round_trips_as_bytes(server):
    port, auth = server
    call(server, "PUT", "/sda/0/AUTH_a/m", {"X-Timestamp": f"{time.time():.5f}"})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("POST", "/sda/0/AUTH_a/m")
    for name, value in signed_headers(auth, "POST", "/sda/0/AUTH_a/m",
                                      {"X-Timestamp": f"{time.time():.5f}"}).items():
        conn.putheader(name, value)
    conn.putheader("X-Container-Meta-Name", "caf\u00e9 \u2603".encode())
    conn.putheader("Content-Length", "0")
    conn.endheaders()
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 204
    status, headers, _ = call(server, "HEAD", "/sda/0/AUTH_a/m")
    assert headers["X-Container-Meta-Name"].encode("latin-1").decode("utf-8") == "caf\u00e9 \u2603"
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest("POST", "/sda/0/AUTH_a/m")
    for name, value in signed_headers(auth, "POST", "/sda/0/AUTH_a/m",
                                      {"X-Timestamp": f"{time.time():.5f}"}).items():
        conn.putheader(name, value)
    conn.putheader("X-Container-Meta-Bad", b"\xff\xfe")
    conn.putheader("Content-Length", "0")
    conn.endheaders()
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 400
