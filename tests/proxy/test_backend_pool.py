"""Keep-alive pooling to storage nodes, the last-resort node order, and transaction ids."""
from __future__ import annotations

from common.backend_auth import BackendAuth
from common.green import eventlet
from proxy.backend_client import BackendClient
from proxy.transaction import TRANS_ID, carry, new_trans_id

AUTH = BackendAuth("pool-test-secret")


class OneShotServer:
    """A loopback HTTP server answering each connection's first request with keep-alive
    headers, then closing that connection (like a node dropping an idle client)."""

    def __init__(self):
        self.sock = eventlet.listen(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.heads: list[bytes] = []
        self.connections = 0
        self.closed = 0
        self.thread = eventlet.spawn(self._serve)

    def _serve(self):
        while True:
            conn, _addr = self.sock.accept()
            self.connections += 1
            eventlet.spawn(self._answer, conn)

    def _answer(self, conn):
        head = b""
        while b"\r\n\r\n" not in head:
            data = conn.recv(65536)
            if not data:
                conn.close()
                return
            head += data
        self.heads.append(head)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        conn.close()
        self.closed += 1

    def stop(self):
        self.thread.kill()
        self.sock.close()


def _node(port: int) -> dict:
    return {"ip": "127.0.0.1", "port": port, "device": "d1"}


def _wait_until(predicate, timeout: float = 5.0) -> None:
    hub = eventlet.hubs.get_hub()
    deadline = hub.clock() + timeout
    while not predicate():
        assert hub.clock() < deadline, "condition not reached"
        eventlet.sleep(0.01)


def test_dead_idle_connections_are_retried_fresh_without_counting_an_error():
    server = OneShotServer()
    try:
        client = BackendClient(0.5, 2.0, error_limit=0, error_interval=60.0, auth=AUTH)
        node = _node(server.port)

        def get(_index):
            response = client.request(node, 0, "GET", "/a/c/o", {})
            return response.status, response.read_all(100)

        # three concurrent requests leave three idle connections, which the node then closes
        assert list(eventlet.GreenPool(3).imap(get, range(3))) == [(200, b"ok")] * 3
        _wait_until(lambda: server.closed == 3)
        assert get(0) == (200, b"ok")
        assert server.connections == 4
        assert not client.limiter.is_limited(node)
    finally:
        server.stop()


def test_error_limited_primaries_are_tried_last():
    class Ring:
        def get_part_nodes(self, part):
            return [_node(1), _node(2)]

        def get_more_nodes(self, part):
            return iter([_node(3)])

    client = BackendClient(0.5, 2.0, error_limit=0, error_interval=60.0, auth=AUTH)
    client.limiter.limit_now(_node(1))
    order = [n["port"] for n in client.iter_nodes(Ring(), 0)]
    assert order == [2, 3, 1]


def test_trans_id_is_sent_to_backends_from_fanned_out_green_threads():
    server = OneShotServer()
    try:
        client = BackendClient(0.5, 2.0, error_limit=10, error_interval=60.0, auth=AUTH)
        trans_id = new_trans_id()
        assert trans_id.startswith("tx") and len(trans_id) == 34

        def ask(_index):
            return client.request(_node(server.port), 0, "HEAD", "/a/c/o", {}).status

        def request():
            TRANS_ID.set(trans_id)
            pool = eventlet.GreenPool(2)
            return list(pool.imap(carry(ask), range(2)))

        assert eventlet.spawn(request).wait() == [200, 200]
        assert len(server.heads) == 2
        for head in server.heads:
            assert f"X-Trans-Id: {trans_id}\r\n".encode() in head
    finally:
        server.stop()


def test_proxy_returns_a_trans_id(tester):
    first = tester("HEAD")
    second = tester("HEAD")
    assert first.headers["X-Trans-Id"].startswith("tx")
    assert first.headers["X-Openstack-Request-Id"] == first.headers["X-Trans-Id"]
    assert first.headers["X-Trans-Id"] != second.headers["X-Trans-Id"]
    missing = tester("GET", "no-such-container-for-trans-id")
    assert missing.status_int == 404
    assert missing.headers["X-Trans-Id"].startswith("tx")
