"""Requests between storage nodes, on one raw keep-alive pool: the daemons', the container
server's account reports, the object server's container updates and `brume status`'s.

Every call is signed with the cluster's backend secret (`auth`, a
`common.backend_auth.BackendAuth`, through `sign_target`: the signing hook of
`common.http_client`; storage servers refuse unsigned requests), has a connect timeout and a
per-read timeout, quotes the path, and returns the whole (small) response body (at most
`max_body` bytes). Bodies sent can be bytes or an iterable of chunks with a known total
length, so nothing large is ever held in memory. Failures raise `common.http_client`'s one
error type, `HTTPClientError` (status None: no answer); a status is the caller's to judge.

Connections are kept alive and reused per node (a replicator asks every peer about every
partition each pass, and an object server tells a container replica about every PUT). A
reused connection the peer has meanwhile closed is replaced by a fresh one and the request
sent again, when its body can be replayed: every backend request is idempotent (each write
carries its own `X-Timestamp`), as `common.http_client`'s retry rule asks.

Why not `common.http_client` itself: this traffic is the storage nodes' hot path, and
urllib3 costs about twice the client CPU per request of this bare `http.client` exchange
under eventlet (`benchmarks/backend_requests.py`; figures in the commit that made this
choice). The service-to-service clients above the storage nodes use `common.http_client`.
"""
from __future__ import annotations

import http.client
import time
from collections.abc import Iterable
from urllib.parse import quote

from common.http_client import HTTPClientError


class _StaleConnection(HTTPClientError):
    """A kept-alive connection turned out closed by the peer before any answer."""


CLOSED_BY_PEER = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class Response:
    """A backend answer, its body read whole (`headers` keys lower case)."""

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: dict[str, str], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


MAX_IDLE_SECONDS = 20.0
MAX_IDLE_PER_NODE = 16
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


def close_idle() -> None:
    """Close every idle connection (tests; a process about to fork)."""
    while _idle:
        _address, idle = _idle.popitem()
        for conn, _since in idle:
            conn.close()


def _connect(ip: str, port: int, conn_timeout: float, what: str) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection(ip, port, timeout=conn_timeout)
    try:
        conn.connect()
    except OSError as exc:
        conn.close()
        raise HTTPClientError(f"{what}: cannot connect: {exc}") from None
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
    target = quote(path)
    what = f"{method} {ip}:{port}{path}"
    replayable = body is None or isinstance(body, bytes | bytearray)
    conn = _pooled(ip, port) if replayable else None
    if conn is not None:
        try:
            return _exchange(ip, port, conn, method, target, auth, headers, body,
                             content_length, node_timeout, max_body, what, reused=True)
        except _StaleConnection:
            pass  # the peer closed the idle connection: once more on a fresh one
    conn = _connect(ip, port, conn_timeout, what)
    return _exchange(ip, port, conn, method, target, auth, headers, body, content_length,
                     node_timeout, max_body, what)


def _exchange(ip, port, conn, method, target, auth, headers, body, content_length,
              node_timeout, max_body, what, reused=False) -> Response:
    reusable = False
    try:
        conn.sock.settimeout(node_timeout)
        if isinstance(body, bytes | bytearray):
            content_length = len(body)
            chunks: Iterable[bytes] = [bytes(body)] if body else []
        else:
            chunks = body or []
            if content_length is None:
                content_length = 0
        signed = auth.sign_target(method, target, headers or {})
        conn.putrequest(method, target, skip_accept_encoding=True)
        for name, value in signed.items():
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(content_length))
        conn.endheaders()
        for chunk in chunks:
            if chunk:
                conn.send(chunk)
        resp = conn.getresponse()
        data = resp.read(max_body)
        if not resp.isclosed() and resp.read(1):
            raise HTTPClientError(f"{what}: answer over {max_body} bytes", resp.status,
                                  resp.reason, data)
        reusable = resp.isclosed() and not resp.will_close
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    except (OSError, http.client.HTTPException) as exc:
        error = _StaleConnection if reused and isinstance(exc, CLOSED_BY_PEER) else \
            HTTPClientError
        raise error(f"{what}: {exc or type(exc).__name__}") from None
    finally:
        if reusable:
            _release(ip, port, conn)
        else:
            conn.close()
