"""Requests between storage nodes: the daemons', the container server's account reports, the
object server's container updates and `brume status`'s.

Every call goes over `common.backend_http` (the proxy's wire to the nodes too): signed with
the cluster's backend secret (`auth`, a `common.backend_auth.BackendAuth`; storage servers
refuse unsigned requests), a connect timeout and a per-operation timeout (`node_timeout` for
each send and read, so a long push is fine while a stalled one is not), the path quoted,
and the whole (small) response body returned (at most `max_body` bytes). Bodies sent can be
bytes or an iterable of chunks with a known total length, so nothing large is ever held in
memory. Failures raise `common.http_client`'s one error type, `HTTPClientError` (status None:
no answer); a status is the caller's to judge.

Connections are kept alive and reused per node, in one process-wide
`common.backend_http.ConnectionPool` (a replicator asks every peer about every partition
each pass, and an object server tells a container replica about every PUT). A reused
connection the peer has meanwhile closed is replaced by a fresh one and the request sent
again, when its body can be replayed: every backend request is idempotent (each write
carries its own `X-Timestamp`).

Why not `common.http_client`: this traffic is the storage nodes' hot path, and urllib3 costs
about twice the client CPU per request under eventlet (`benchmarks/backend_requests.py`).
The service-to-service clients above the storage nodes use `common.http_client`.
"""
from __future__ import annotations

from collections.abc import Iterable

from common.backend_http import (
    BackendConnection,
    BackendError,
    BackendResponse,
    ConnectionPool,
    closed_while_idle,
    socket_failure,
)
from common.http_client import HTTPClientError


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


MAX_IDLE_PER_NODE = 16
POOL = ConnectionPool(MAX_IDLE_PER_NODE)


def close_idle() -> None:
    """Close every idle connection (tests; a process about to fork)."""
    POOL.close_idle()


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
    what = f"{method} {ip}:{port}{path}"
    try:
        answer = _answer(ip, port, method, path, auth, headers, body, content_length,
                         conn_timeout, node_timeout)
        parts, total = [], 0
        while data := answer.read(65536):
            total += len(data)
            if total > max_body:
                answer.close()
                raise HTTPClientError(f"{what}: answer over {max_body} bytes", answer.status,
                                      answer.reason, b"".join(parts))
            parts.append(data)
    except BackendError as exc:
        raise HTTPClientError(f"{what}: {exc}") from None
    return Response(answer.status, answer.headers, b"".join(parts))


def _answer(ip, port, method, path, auth, headers, body, content_length, conn_timeout,
            node_timeout) -> BackendResponse:
    """The response head, from an idle connection when the body can be sent again (once more
    on a fresh one when the peer had closed it), else from a fresh one."""
    send = dict(headers or {})
    if body is None or isinstance(body, bytes | bytearray):
        send["Content-Length"] = str(len(body or b""))
        small, chunks = bytes(body or b""), ()
        conn = POOL.get(ip, port, conn_timeout)
    else:
        send["Content-Length"] = str(content_length or 0)
        small, chunks = None, body
        conn = POOL.get(ip, port, conn_timeout, fresh=True)
    if conn.reused:
        try:
            return _exchange(conn, method, path, auth, send, small, chunks, node_timeout)
        except BackendError as exc:
            if not closed_while_idle(exc):
                raise
            POOL.discard_idle(ip, port)
            conn = POOL.get(ip, port, conn_timeout, fresh=True)
    return _exchange(conn, method, path, auth, send, small, chunks, node_timeout)


def _exchange(conn: BackendConnection, method, path, auth, headers, small, chunks,
              node_timeout) -> BackendResponse:
    try:
        conn.sock.settimeout(node_timeout)
        conn.send_head(method, path, headers, auth, small or None)
        for chunk in chunks:
            if chunk:
                conn.send(chunk)
        return conn.read_response(node_timeout)
    except OSError as exc:
        conn.close()
        raise socket_failure("", exc) from None
    except BaseException:  # also a body iterator's own error: the peer must see a cut body
        conn.close()
        raise
