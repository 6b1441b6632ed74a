"""A tiny HTTP client for node-to-node backend requests made by the storage daemons.

Every call is signed with the cluster's backend secret (`auth`, a
`common.backend_auth.BackendAuth`: storage servers refuse unsigned requests), has a connect
timeout and a per-read timeout, quotes the path, and either returns
the whole (small) response body or hands back the open response for streaming. Bodies sent
can be bytes or an iterable of chunks with a known total length, so nothing large is ever held
in memory. Network failures surface as `BackendError` with a one-line reason.

Connections are kept alive and reused per node (a replicator asks every peer about every
partition each pass; a fresh TCP connection each time would cost more than the question).
A reused connection the peer has meanwhile closed is replaced by a fresh one and the request
sent again, when its body can be replayed.
"""
from __future__ import annotations

import http.client
import time
from collections.abc import Iterable
from urllib.parse import quote


class BackendError(Exception):
    """A backend request failed before a response arrived (connect, timeout, reset)."""


class StaleConnection(BackendError):
    """A kept-alive connection turned out closed by the peer before any answer."""


CLOSED_BY_PEER = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Response:
    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


MAX_IDLE_SECONDS = 20.0
MAX_IDLE_PER_NODE = 4
# (ip, port) -> [(connection, time it became idle)]
_idle: dict[tuple[str, int], list[tuple[http.client.HTTPConnection, float]]] = {}


def _pooled(ip: str, port: int) -> http.client.HTTPConnection | None:
    idle = _idle.get((ip, port))
    now = time.monotonic()
    while idle:
        conn, since = idle.pop()
        if now - since < MAX_IDLE_SECONDS:
            return conn
        conn.close()
    return None


def _release(ip: str, port: int, conn: http.client.HTTPConnection) -> None:
    idle = _idle.setdefault((ip, port), [])
    if len(idle) < MAX_IDLE_PER_NODE:
        idle.append((conn, time.monotonic()))
    else:
        conn.close()


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
    *,
    auth,
    content_length: int | None = None,
    conn_timeout: float = 3.0,
    node_timeout: float = 30.0,
    max_body: int = 64 * 1024 * 1024,
) -> Response:
    """Send one signed request and read the whole response body (at most `max_body` bytes)."""
    headers = auth.signed(method, path, headers)
    replayable = body is None or isinstance(body, bytes | bytearray)
    conn = _pooled(ip, port) if replayable else None
    if conn is not None:
        try:
            return _exchange(ip, port, conn, method, path, headers, body, content_length,
                             node_timeout, max_body, reused=True)
        except StaleConnection:
            pass  # the peer closed the idle connection: once more on a fresh one
    conn = _connect(ip, port, conn_timeout)
    return _exchange(ip, port, conn, method, path, headers, body, content_length,
                     node_timeout, max_body)


def _exchange(ip, port, conn, method, path, headers, body, content_length, node_timeout,
              max_body, reused=False) -> Response:
    reusable = False
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
        reusable = resp.isclosed() and not resp.will_close
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    except (OSError, http.client.HTTPException) as exc:
        error = StaleConnection if reused and isinstance(exc, CLOSED_BY_PEER) else BackendError
        raise error(f"{method} {ip}:{port}{path}: {exc or type(exc).__name__}") from None
    finally:
        if reusable:
            _release(ip, port, conn)
        else:
            conn.close()
