"""The daemons' backend client keeps connections alive and survives a peer closing them."""
import http.server
import threading

import pytest

from common.backend_auth import AUTH_HEADER, BackendAuth
from storage import backend_client

AUTH = BackendAuth("pool-test-secret")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_REPLICATE(self):
        assert self.headers[AUTH_HEADER]  # every request is signed
        length = int(self.headers.get("Content-Length", 0))
        self.rfile.read(length)
        body = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class CountingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    connections = 0

    def process_request(self, request, client_address):
        self.connections += 1
        self.last_socket = request
        super().process_request(request, client_address)


@pytest.fixture
def server():
    srv = CountingServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    backend_client._idle.clear()
    yield srv
    srv.shutdown()
    srv.server_close()
    backend_client._idle.clear()


def test_sequential_requests_share_one_connection(server):
    port = server.server_address[1]
    for _ in range(5):
        resp = backend_client.request("127.0.0.1", port, "REPLICATE", "/d1/7", body=b"x",
                                      auth=AUTH)
        assert resp.status == 200 and resp.body == b"ok"
    assert server.connections == 1


def test_connection_closed_by_peer_is_replaced(server):
    port = server.server_address[1]
    assert backend_client.request("127.0.0.1", port, "REPLICATE", "/d1/7", auth=AUTH).status == 200
    (conn, _since), = backend_client._idle[("127.0.0.1", port)]
    conn.sock.shutdown(2)  # as if the peer had dropped the idle connection
    assert backend_client.request("127.0.0.1", port, "REPLICATE", "/d1/7", auth=AUTH).status == 200
    assert server.connections == 2
