"""common.backend_http against real loopback peers: a slow node is told apart from a
kept-alive connection the node closed while idle (only the latter is worth one retry)."""
from __future__ import annotations

import socket

import pytest

from common.backend_auth import BackendAuth
from common.backend_http import (
    BackendConnection,
    BackendError,
    BackendTimeout,
    closed_while_idle,
)
from common.green import eventlet

AUTH = BackendAuth("a-test-secret-of-enough-length")


class Peer:
    """A loopback listener that does `behaviour(client_socket)` with each connection."""

    def __init__(self, behaviour):
        self.listener = eventlet.listen(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.behaviour = behaviour
        self.thread = eventlet.spawn(self._serve)
        self.held = []

    def _serve(self):
        while True:
            client, _ = self.listener.accept()
            self.held.append(client)
            self.behaviour(client)

    def close(self):
        self.thread.kill()
        for client in self.held:
            client.close()
        self.listener.close()


@pytest.fixture
def peer():
    made = []

    def start(behaviour):
        made.append(Peer(behaviour))
        return made[-1]

    yield start
    for each in made:
        each.close()


def read_request_head(client):
    """Read the request line and headers (up to their blank line)."""
    for line in iter(client.makefile("rb").readline, b""):
        if line in (b"\r\n", b"\n"):
            return


def test_a_node_that_never_answers_is_a_timeout_not_an_idle_close(peer):
    node = peer(lambda client: None)  # accepts, reads nothing, answers nothing
    conn = BackendConnection.open("127.0.0.1", node.port, 1.0)
    conn.send_head("GET", "/sda/0/a/c/o", {}, AUTH)
    with pytest.raises(BackendTimeout) as caught:
        conn.read_response(0.2)
    assert not closed_while_idle(caught.value)


def test_a_connection_the_node_closed_is_an_idle_close(peer):
    node = peer(lambda client: client.close())
    conn = BackendConnection.open("127.0.0.1", node.port, 1.0)
    eventlet.sleep(0.05)  # the node has closed its end
    with pytest.raises(BackendError) as caught:
        conn.send_head("GET", "/sda/0/a/c/o", {}, AUTH)
        conn.read_response(1.0)
    assert not isinstance(caught.value, BackendTimeout)
    assert closed_while_idle(caught.value)


def test_a_body_that_stalls_past_the_socket_timeout_is_a_timeout(peer):
    def answer_then_stall(client):
        read_request_head(client)
        client.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")

    node = peer(answer_then_stall)
    conn = BackendConnection.open("127.0.0.1", node.port, 1.0)
    conn.sock.settimeout(0.2)
    conn.send_head("GET", "/sda/0/a/c/o", {}, AUTH)
    response = conn.read_response(1.0)
    assert response.read(2) == b"ab"
    with pytest.raises(BackendTimeout) as caught:
        response.read(8)
    assert "timed out" in str(caught.value) and not closed_while_idle(caught.value)


def test_a_refused_connection_is_not_a_timeout():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()  # nothing listens there now
    with pytest.raises(BackendError) as caught:
        BackendConnection.open("127.0.0.1", port, 1.0)
    assert not isinstance(caught.value, BackendTimeout)
