"""common.http_client against real loopback servers: pooling, retries, streaming, timeouts,
signing and its one error type. No mocks: every request crosses a real socket."""
from __future__ import annotations

import hashlib
import http.server
import json
import socket
import threading
import time
import tracemalloc
from urllib.parse import unquote_to_bytes, urlsplit

import pytest

from common.backend_auth import AUTH_HEADER, BackendAuth
from common.http_client import HTTPClient, HTTPClientError

MIB = 1024 * 1024


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _body(self) -> bytes:
        """The request body, Content-Length or chunked, hashed as it comes (never whole)."""
        digest, size = hashlib.md5(), 0
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while True:
                length = int(self.rfile.readline().split(b";")[0], 16)
                if length == 0:
                    self.rfile.readline()
                    break
                left = length
                while left:
                    data = self.rfile.read(min(left, MIB))
                    digest.update(data)
                    left -= len(data)
                    size += len(data)
                self.rfile.readline()
        else:
            left = int(self.headers.get("Content-Length") or 0)
            while left:
                data = self.rfile.read(min(left, MIB))
                digest.update(data)
                left -= len(data)
                size += len(data)
        return json.dumps({"size": size, "md5": digest.hexdigest(),
                           "chunked": "Transfer-Encoding" in self.headers}).encode()

    def _answer(self, status: int, body: bytes = b"", headers=()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _handle(self):
        server = self.server
        server.requests.append((self.command, self.path))
        summary = self._body()
        if server.drop_next:  # read the request, then hang up without an answer
            server.drop_next -= 1
            self.close_connection = True
            return
        path = urlsplit(self.path).path
        if path == "/slow":
            time.sleep(2)
        if path.startswith("/status/"):
            self._answer(int(path.rsplit("/", 1)[1]), b"\nthe one-line reason\nmore\n")
        elif path.startswith("/big/"):
            size = int(path.rsplit("/", 1)[1])
            self.send_response(200)
            self.send_header("Content-Length", str(size))
            self.end_headers()
            block = b"x" * MIB
            while size:
                self.wfile.write(block[:min(size, MIB)])
                size -= min(size, MIB)
        elif path.startswith("/signed"):
            environ = {"REQUEST_METHOD": self.command,
                       "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
                       "QUERY_STRING": urlsplit(self.path).query}
            for name, value in self.headers.items():
                environ["HTTP_" + name.upper().replace("-", "_")] = value
            refusal = BackendAuth("test-secret").refusal(environ)
            self._answer(401 if refusal else 200, refusal.encode())
        else:
            echo = {"headers": dict(self.headers.items()), "body": json.loads(summary)}
            self._answer(200, json.dumps(echo).encode(),
                         [("Content-Type", "application/json")])

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_REPLICATE = _handle


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.connections = 0
        self.requests: list = []
        self.drop_next = 0
        self.sockets: list = []

    def process_request(self, request, client_address):
        self.connections += 1
        self.sockets.append(request)
        super().process_request(request, client_address)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server():
    srv = Server()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


@pytest.fixture
def client(server):
    client = HTTPClient(server.url, timeout=5.0)
    yield client
    client.close()


def test_sequential_requests_reuse_one_kept_alive_connection(server, client):
    for _ in range(5):
        response = client.request("GET", "/x")
        assert response.status == 200 and response.json()["body"]["size"] == 0
    assert client.request("PUT", "/x", body=b"abc").json()["body"]["size"] == 3
    assert server.connections == 1


def test_a_kept_alive_connection_the_server_closed_is_replaced(server, client):
    assert client.request("GET", "/x").ok
    server.sockets[0].shutdown(socket.SHUT_RDWR)  # the peer dropped the idle connection
    assert client.request("GET", "/x").ok
    assert server.connections == 2


def test_an_idempotent_request_dropped_unanswered_is_sent_again(server, client):
    assert client.request("PUT", "/x", body=b"row").ok
    server.drop_next = 1  # the reused connection dies just as the request arrives
    assert client.request("PUT", "/x", body=b"row").json()["body"]["size"] == 3
    assert len(server.requests) == 3 and server.connections == 2


def test_a_post_whose_body_was_sent_is_never_sent_again(server, client):
    server.drop_next = 1
    with pytest.raises(HTTPClientError) as caught:
        client.request("POST", "/x", body=b"create one thing")
    assert caught.value.status is None
    assert server.requests == [("POST", "/x")]


def test_a_streamed_body_is_never_sent_again(server, client):
    server.drop_next = 1
    with pytest.raises(HTTPClientError):
        client.request("PUT", "/x", body=iter([b"a", b"b"]), headers={"Content-Length": "2"})
    assert len(server.requests) == 1


def test_retries_are_bounded(server):
    client = HTTPClient(server.url, retries=2)
    server.drop_next = 10
    with pytest.raises(HTTPClientError):
        client.request("GET", "/x")
    assert len(server.requests) == 3  # the first attempt and two retries


def test_a_refused_connection_is_the_one_error_with_no_status():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(HTTPClientError) as caught:
        HTTPClient(f"http://127.0.0.1:{port}", retries=1).request("POST", "/x", body=b"a")
    assert caught.value.status is None
    assert "cannot connect" in str(caught.value) and "\n" not in str(caught.value)


def test_a_header_value_http_cannot_carry_is_the_one_error(client):
    with pytest.raises(HTTPClientError) as caught:
        client.request("GET", "/status/200", headers={"X-Name": "h\U000275e9"})
    assert caught.value.status is None and "latin-1" in str(caught.value)


def test_an_unexpected_status_is_the_one_error_with_status_and_excerpt(client):
    with pytest.raises(HTTPClientError) as caught:
        client.request("GET", "/status/404", expect=(200,))
    error = caught.value
    assert (error.status, error.reason, error.detail) == (404, "Not Found", "the one-line reason")
    assert error.body.startswith(b"\nthe one-line reason")
    response = client.request("GET", "/status/503")  # without expect: the caller decides
    assert response.status == 503 and not response.ok


def test_a_read_timeout_fails_fast_and_is_not_retried(server):
    client = HTTPClient(server.url, timeout=0.3, retries=3)
    started = time.monotonic()
    with pytest.raises(HTTPClientError) as caught:
        client.request("GET", "/slow")
    assert time.monotonic() - started < 1.5
    assert caught.value.status is None and "timed out" in str(caught.value)
    assert len(server.requests) == 1


def test_an_answer_over_max_body_is_refused_not_held(client):
    with pytest.raises(HTTPClientError, match="over 1024 bytes"):
        client.request("GET", "/big/4096", max_body=1024)
    assert client.request("GET", "/big/1024", max_body=1024).body == b"x" * 1024


def chunks(total: int, size: int = 256 * 1024):
    block = b"y" * size
    while total > 0:
        yield block[:min(size, total)]
        total -= size


def test_bodies_stream_both_ways_in_bounded_memory(client):
    total = 64 * MIB
    tracemalloc.start()
    try:
        up_chunked = client.request("PUT", "/up", body=chunks(total)).json()["body"]
        up_sized = client.request("PUT", "/up", body=chunks(total),
                                  headers={"Content-Length": str(total)}).json()["body"]
        received = 0
        with client.request("GET", f"/big/{total}", stream=True) as response:
            assert response.length == total
            for chunk in response.iter_chunks():
                received += len(chunk)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    expected = hashlib.md5(b"".join(chunks(total))).hexdigest()
    assert up_chunked == {"size": total, "md5": expected, "chunked": True}
    assert up_sized == {"size": total, "md5": expected, "chunked": False}
    assert received == total
    assert peak < 8 * MIB


def test_a_file_object_streams_as_the_body(client, tmp_path):
    path = tmp_path / "data"
    path.write_bytes(b"z" * (3 * MIB + 5))
    with open(path, "rb") as source:
        answer = client.request("PUT", "/up", body=source,
                                headers={"Content-Length": str(3 * MIB + 5)}).json()["body"]
    assert answer["size"] == 3 * MIB + 5


def test_a_stream_read_to_its_end_gives_its_connection_back(server, client):
    with client.request("GET", "/big/100000", stream=True) as response:
        assert sum(len(c) for c in response.iter_chunks(4096)) == 100000
    assert client.request("GET", "/x").ok
    assert server.connections == 1


def test_a_stream_closed_early_drops_its_connection_instead_of_draining_it(server, client):
    response = client.request("GET", f"/big/{256 * MIB}", stream=True)
    assert len(response.read(1000)) == 1000
    response.close()
    assert client.request("GET", "/x").ok
    assert server.connections == 2


def test_the_signing_hook_signs_every_attempt_afresh(server):
    signed = []

    def sign(method, target, headers, body):
        signed.append((method, target, body))
        return {**headers, "X-Sig": f"{method} {target} {len(signed)}"}

    client = HTTPClient(server.url, sign=sign)
    assert client.request("GET", "/x?q=1").json()["headers"]["X-Sig"] == "GET /x?q=1 1"
    server.drop_next = 1
    answer = client.request("PUT", "/x", body=b"abc").json()
    assert answer["headers"]["X-Sig"] == "PUT /x 3"  # the retry carried its own signature
    assert signed[1:] == [("PUT", "/x", b"abc"), ("PUT", "/x", b"abc")]
    client.request("PUT", "/x", body=iter([b"a"]), headers={"Content-Length": "1"})
    assert signed[-1] == ("PUT", "/x", None)  # a streamed body is not offered to the signer


def test_backend_signatures_verify_for_quoted_paths_and_queries(server):
    client = HTTPClient(server.url, sign=BackendAuth("test-secret").sign_target)
    response = client.request("REPLICATE", "/signed/d%C3%A9v/7/a%20b?x=1",
                              headers={"X-Timestamp": "0000000001.00000"})
    assert response.status == 200, response.body
    other = HTTPClient(server.url, sign=BackendAuth("wrong-secret").sign_target)
    refused = other.request("GET", "/signed/x")
    assert refused.status == 401 and b"signature" in refused.body
    assert AUTH_HEADER  # the header both sides name


def test_absolute_urls_share_the_client(server):
    client = HTTPClient(timeout=5)
    for _ in range(3):
        assert client.request("GET", server.url + "/x").ok
    assert server.connections == 1
