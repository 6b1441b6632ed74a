"""The serial console relay over real sockets: the dashboard (eventlet's WSGI server, as in
production) between a browser stand-in and a stand-in for the compute API's console
websocket (an echo). The CSRF token must be the first message; the Origin must be the
dashboard's; compute's refusal closes the websocket with its reason; the one-time console
URL never reaches the browser."""
from __future__ import annotations

import base64
import dataclasses
import json
import os
import socket

import pytest
from webob import Request, Response

from common import raw_connection, websocket
from dashboard.app import build
from dashboard.config import DashboardConfig
from tests.dashboard.test_app import TOKEN, FakeIdentity
from tests.imagesvc.loopback import serve_app

SECRET_PATH = "/console?token=one-time-secret"


class FakeCompute:
    """remote-consoles names its own /console; the websocket echoes what it gets."""

    def __init__(self):
        self.url = ""
        self.refuse = None
        self.refuse_socket = None
        self.requests = []

    def __call__(self, environ, start_response):
        req = Request(environ)
        self.requests.append((req.method, req.path_info, req.headers.get("X-Auth-Token")))
        if req.path_info.endswith("/remote-consoles"):
            if self.refuse:
                answer = Response(status=409, json_body={"conflictingRequest": {
                    "code": 409, "message": self.refuse}})
            else:
                assert json.loads(req.body)["remote_console"]["protocol"] == "serial"
                answer = Response(json_body={"remote_console": {
                    "protocol": "serial", "type": "serial",
                    "url": self.url.replace("http://", "ws://") + SECRET_PATH}})
            return answer(environ, start_response)
        assert req.path_qs == SECRET_PATH
        if self.refuse_socket:
            return Response(status=409, json_body={"conflictingRequest": {
                "code": 409, "message": self.refuse_socket}})(environ, start_response)
        head = websocket.server_handshake(req.headers)
        client = raw_connection.take_over(environ)
        client.sendall(("HTTP/1.1 101 Switching Protocols\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in head) + "\r\n").encode())
        client.sendall(websocket.encode(websocket.BINARY, b"login: "))
        parser = websocket.FrameParser(require_mask=True)
        while data := client.recv(4096):
            for opcode, payload in parser.feed(data):
                if opcode == websocket.CLOSE:
                    client.close()
                    return raw_connection.handled()
                client.sendall(websocket.encode(websocket.BINARY, b"echo:" + payload))
        return raw_connection.handled()


class CatalogIdentity(FakeIdentity):
    def __init__(self, catalog):
        super().__init__()
        self.catalog = catalog

    def grant(self, project, token=TOKEN):
        return dataclasses.replace(super().grant(project, token), catalog=self.catalog)


@pytest.fixture
def servers(tmp_path):
    compute = FakeCompute()
    compute.url, stop_compute = serve_app(compute)
    identity = CatalogIdentity([{"type": "compute", "endpoints": [
        {"interface": "public", "url": compute.url + "/v2.1"}]}])
    config = DashboardConfig(identity_url="http://127.0.0.1:1", session_db=":memory:")
    url, stop_dashboard = serve_app(build(config, identity=identity,
                                          clock=lambda: identity.now))
    try:
        yield compute, url
    finally:
        stop_dashboard()
        stop_compute()


def login(url: str, user: str = "tester", password: str = "testing") -> tuple[str, str]:
    """(the session cookie, the CSRF token) of a dashboard login."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        body = json.dumps({"user": user, "password": password}).encode()
        sock.sendall(b"POST /auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                     b"\r\nConnection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    cookie = next(line.split(b":", 1)[1].split(b";")[0].strip().decode()
                  for line in head.split(b"\r\n") if line.lower().startswith(b"set-cookie"))
    return cookie, json.loads(rest)["csrf_token"]


def open_console(url: str, cookie: str | None, origin: str | None,
                 server_id: str = "abc-123"):
    """(socket, status line, bytes after the head)."""
    host_port = url.removeprefix("http://")
    host, port = host_port.split(":")
    sock = socket.create_connection((host, int(port)), timeout=10)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [f"GET /api/console/{server_id} HTTP/1.1", f"Host: {host_port}", "Upgrade: websocket",
             "Connection: Upgrade", f"Sec-WebSocket-Key: {key}", "Sec-WebSocket-Version: 13"]
    if cookie:
        lines.append(f"Cookie: {cookie}")
    if origin:
        lines.append(f"Origin: {origin}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    head, rest = raw_connection.read_head(sock)
    return sock, head.split(b"\r\n")[0].decode(), rest


def messages(sock, rest: bytes, parser, wanted: int) -> list[tuple[int, bytes]]:
    got = parser.feed(rest)
    while len(got) < wanted:
        data = sock.recv(4096)
        if not data:
            break
        got += parser.feed(data)
    return got


def test_the_console_relays_both_ways_after_the_csrf_token(servers):
    compute, url = servers
    cookie, csrf = login(url)
    sock, status, rest = open_console(url, cookie, url)
    assert " 101 " in status
    sock.sendall(websocket.encode(websocket.TEXT, csrf.encode(), mask=True))
    sock.sendall(websocket.encode(websocket.BINARY, b"root\r", mask=True))
    parser = websocket.FrameParser(require_mask=False)
    got = messages(sock, rest, parser, 2)
    assert [payload for _op, payload in got[:2]] == [b"login: ", b"echo:root\r"]
    sock.sendall(websocket.encode(websocket.CLOSE, b"\x03\xe8", mask=True))
    sock.close()
    # The dashboard asked compute with the session's token; the browser saw no console URL.
    assert ("POST", "/v2.1/servers/abc-123/remote-consoles", TOKEN + "test") in compute.requests
    assert b"one-time-secret" not in rest


def test_a_wrong_csrf_token_closes_the_console_before_compute_is_asked(servers):
    compute, url = servers
    cookie, csrf = login(url)
    sock, status, rest = open_console(url, cookie, url)
    assert " 101 " in status
    sock.sendall(websocket.encode(websocket.TEXT, b"x" + csrf.encode(), mask=True))
    got = messages(sock, rest, websocket.FrameParser(require_mask=False), 1)
    assert got[0][0] == websocket.CLOSE and b"CSRF" in got[0][1]
    assert not any(path.endswith("remote-consoles") for _m, path, _t in compute.requests)
    sock.close()


@pytest.mark.parametrize("refusal, reason", [
    ("refuse", "Instance abc-123 is not ready for a console (it must be ACTIVE)."),  # the URL
    ("refuse_socket", "The guest has no serial console."),  # the websocket itself
])
def test_compute_refusing_the_console_is_a_close_with_its_reason(servers, refusal, reason):
    compute, url = servers
    setattr(compute, refusal, reason)
    cookie, csrf = login(url)
    sock, _status, rest = open_console(url, cookie, url)
    sock.sendall(websocket.encode(websocket.TEXT, csrf.encode(), mask=True))
    got = messages(sock, rest, websocket.FrameParser(require_mask=False), 1)
    assert got[0][0] == websocket.CLOSE
    assert int.from_bytes(got[0][1][:2], "big") == 4000 and got[0][1][2:] == reason.encode()
    sock.close()


def test_no_session_or_another_origin_is_refused_before_the_upgrade(servers):
    _compute, url = servers
    cookie, _csrf = login(url)
    for sent_cookie, origin, code in ((None, url, "401"), (cookie, "http://evil.example", "403"),
                                      (cookie, None, "403")):
        sock, status, _rest = open_console(url, sent_cookie, origin)
        assert status.split(" ")[1] == code, status
        sock.close()


def test_a_plain_get_is_not_a_console(tmp_path):
    identity = FakeIdentity()
    app = build(DashboardConfig(identity_url="http://127.0.0.1:1", session_db=":memory:"),
                identity=identity, clock=lambda: identity.now)
    answer = Request.blank("/auth/login", method="POST", content_type="application/json",
                           body=b'{"user": "tester", "password": "testing"}').get_response(app)
    cookie = answer.headers["Set-Cookie"].split(";")[0]
    plain = Request.blank("/api/console/abc", headers={"Cookie": cookie}).get_response(app)
    assert plain.status_int == 400 and plain.json["error"]["code"] == 400
    bad_id = Request.blank("/api/console/a%2fb", headers={"Cookie": cookie}).get_response(app)
    assert bad_id.status_int == 404
