"""A tiny HTTP client for node-to-node backend requests made by the storage daemons.

Every call has a connect timeout and a per-read timeout, quotes the path, and either returns
the whole (small) response body or hands back the open response for streaming. Bodies sent
can be bytes or an iterable of chunks with a known total length, so nothing large is ever held
in memory. Network failures surface as `BackendError` with a one-line reason.
"""
from __future__ import annotations

import http.client
from collections.abc import Iterable
from urllib.parse import quote


class BackendError(Exception):
    """A backend request failed before a response arrived (connect, timeout, reset)."""


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


def _connect(ip: str, port: int, conn_timeout: float) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection(ip, port, timeout=conn_timeout)
    try:
        conn.connect()
    except OSError as exc:
        conn.close()
        raise BackendError(f"connect {ip}:{port}: {exc}") from None
    return conn


def request(
    ip: str,
    port: int,
    method: str,
    path: str,
    headers: dict[str, str] | None = None,
    body: bytes | Iterable[bytes] | None = None,
    content_length: int | None = None,
    conn_timeout: float = 3.0,
    node_timeout: float = 30.0,
    max_body: int = 64 * 1024 * 1024,
) -> Response:
    """Send one request and read the whole response body (at most `max_body` bytes)."""
    conn = _connect(ip, port, conn_timeout)
    try:
        conn.sock.settimeout(node_timeout)
        headers = dict(headers or {})
        if isinstance(body, bytes | bytearray):
            content_length = len(body)
            chunks: Iterable[bytes] = [bytes(body)] if body else []
        else:
            chunks = body or []
            if content_length is None:
                content_length = 0
        conn.putrequest(method, quote(path), skip_accept_encoding=True)
        for name, value in headers.items():
            conn.putheader(name, str(value))
        conn.putheader("Content-Length", str(content_length))
        conn.endheaders()
        for chunk in chunks:
            if chunk:
                conn.send(chunk)
        resp = conn.getresponse()
        data = resp.read(max_body)
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    except (OSError, http.client.HTTPException) as exc:
        raise BackendError(f"{method} {ip}:{port}{path}: {exc or type(exc).__name__}") from None
    finally:
        conn.close()
