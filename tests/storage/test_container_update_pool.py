"""Container updates reuse keep-alive connections, and survive a server closing an idle one."""
from __future__ import annotations

import socket
import threading
import time

from common.backend_auth import DEV_BACKEND_SECRET, BackendAuth
from storage import backend_client
from storage.objects.container_updates import ContainerNode, send_update
from tests.storage.test_object_container_updates import FakeContainer


def _update(host: str) -> bool:
    node = ContainerNode(host, "sdc", "7")
    headers = {"X-Timestamp": "0000000001.00000", "X-Size": "1", "X-Content-Type": "a/b",
               "X-Etag": "d41d8cd98f00b204e9800998ecf8427e"}
    return send_update(node, "PUT", "a", "c", "o", headers, 1.0, 3.0,
                       BackendAuth(DEV_BACKEND_SECRET))


def test_updates_reuse_one_keep_alive_connection():
    container = FakeContainer(201)
    ip, port = "127.0.0.1", container.port
    assert _update(container.host)
    conn, = backend_client.POOL.idle(ip, port)
    assert _update(container.host)
    again, = backend_client.POOL.idle(ip, port)
    assert again is conn
    assert len(container.requests) == 2


class ClosingContainer:
    """Answers one request per connection, announcing keep-alive, then hangs up."""

    def __init__(self):
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.requests = 0
        self.closed = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._answer(conn)

    def _answer(self, conn):
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(65536)
            if not data:
                break
            head += data
        if head:
            self.requests += 1
            conn.sendall(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
        conn.close()
        self.closed += 1


def test_an_idle_connection_closed_by_the_server_is_retried_fresh():
    container = ClosingContainer()
    host = f"127.0.0.1:{container.port}"
    try:
        assert _update(host)
        deadline = time.monotonic() + 5
        while container.closed < 1:
            assert time.monotonic() < deadline
            threading.Event().wait(0.01)
        assert _update(host)  # the pooled connection is dead: the update is sent again
        assert container.requests == 2
    finally:
        container.sock.close()
