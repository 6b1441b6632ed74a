"""The daemons' backend client keeps connections alive and survives a peer closing them.

The peer is a bare HTTP/1.1 server in a process of its own (`counting_http_peer`), which
tells in each answer which of its accepted connections carried the request.
"""
import subprocess
import sys
from pathlib import Path

import pytest

from common.backend_auth import BackendAuth
from storage import backend_client

AUTH = BackendAuth("pool-test-secret")
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def peer_port():
    proc = subprocess.Popen([sys.executable, "-m", "tests.durability.counting_http_peer"],
                            cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        port = int(proc.stdout.readline())
        backend_client.close_idle()
        yield port
    finally:
        backend_client.close_idle()
        proc.kill()
        proc.wait(timeout=10)
        proc.stdout.close()


def replicate(port):
    resp = backend_client.request("127.0.0.1", port, "REPLICATE", "/d1/7", body=b"x",
                                  auth=AUTH, node_timeout=10)
    assert resp.status == 200 and resp.body == b"ok"  # 400 would mean an unsigned request
    return int(resp.headers["x-connection-number"])


def test_sequential_requests_share_one_connection(peer_port):
    assert [replicate(peer_port) for _ in range(5)] == [1] * 5


def test_connection_closed_by_peer_is_replaced(peer_port):
    assert replicate(peer_port) == 1
    conn, = backend_client.POOL.idle("127.0.0.1", peer_port)
    conn.sock.shutdown(2)  # as if the peer had dropped the idle connection
    assert replicate(peer_port) == 2
