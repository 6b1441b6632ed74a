"""common.v1_auth against a real loopback v1 auth server: tokens, expiry, one re-auth on 401."""
from __future__ import annotations

import http.server
import threading

import pytest

from common.http_client import HTTPClient, HTTPClientError
from common.v1_auth import TOKEN_MARGIN, V1Session, authenticate


class AuthHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _answer(self, status: int, headers=(), body: bytes = b""):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        server = self.server
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path == "/auth/v1.0":
            if (self.headers.get("X-Auth-User"), self.headers.get("X-Auth-Key")) != (
                    "acct:user", "key"):
                return self._answer(401, body=b"401 Unauthorized\n")
            server.issued += 1
            token = f"tk{server.issued}"
            server.valid = {token}
            return self._answer(200, [("X-Auth-Token", token),
                                      ("X-Storage-Url", f"{server.url}/v1/AUTH_acct"),
                                      ("X-Auth-Token-Expires", str(server.lifetime))])
        if self.headers.get("X-Auth-Token") not in server.valid:
            return self._answer(401, body=b"401 Unauthorized\n")
        self._answer(200, body=self.headers["X-Auth-Token"].encode())

    do_PUT = do_GET


class AuthServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), AuthHandler)
        self.issued = 0
        self.valid: set[str] = set()
        self.lifetime = 3600

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


@pytest.fixture
def server():
    srv = AuthServer()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def test_authenticate_returns_token_and_storage_url(server):
    credentials = authenticate(f"{server.url}/auth/v1.0", "acct:user", "key")
    assert credentials.token == "tk1"
    assert credentials.storage_url == f"{server.url}/v1/AUTH_acct"


def test_a_wrong_key_is_one_line_with_status_401(server):
    with pytest.raises(HTTPClientError) as caught:
        authenticate(f"{server.url}/auth/v1.0", "acct:user", "nope")
    assert caught.value.status == 401 and "wrong user or key" in str(caught.value)


def test_the_token_is_kept_and_renewed_once_after_a_401(server):
    session = V1Session(f"{server.url}/auth/v1.0", "acct:user", "key")
    assert session.request("GET", server.url + "/v1/AUTH_acct/c").body == b"tk1"
    assert session.request("GET", server.url + "/v1/AUTH_acct/c").body == b"tk1"
    server.valid = set()  # the token was revoked (or the proxy's secret changed)
    assert session.request("PUT", server.url + "/v1/AUTH_acct/c", body=b"x").body == b"tk2"
    assert server.issued == 2


def test_a_streamed_body_gets_the_401_instead_of_a_second_send(server):
    session = V1Session(f"{server.url}/auth/v1.0", "acct:user", "key")
    session.token()
    server.valid = set()
    response = session.request("PUT", server.url + "/v1/AUTH_acct/c", body=iter([b"x"]),
                               headers={"Content-Length": "1"})
    assert response.status == 401 and server.issued == 1


def test_a_token_near_its_expiry_is_renewed_before_use(server):
    server.lifetime = int(TOKEN_MARGIN) - 1
    session = V1Session(f"{server.url}/auth/v1.0", "acct:user", "key",
                        client=HTTPClient(timeout=5))
    assert session.token() == "tk1"
    assert session.token() == "tk2"
