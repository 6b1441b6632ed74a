"""The HTTP/1.1 wire to storage nodes: one green connection, a signed request head, a
strictly framed response. The proxy's requests and the storage nodes' own (container updates,
replication, account reports) all go over it.

Why not http.client: the proxy needs `Expect: 100-continue` (send the request head, learn
whether the node accepts it, and only then stream the body), chunked request bodies written
piece by piece from a queue, strict short-read detection on response bodies (so a GET that
breaks mid-stream is noticed and resumed), and keep-alive reuse of idle connections; and on
the storage nodes' hot path (a container update per replica of every object PUT) an exchange
over this module costs the client about 50 µs of CPU less than one over `http.client`
(`benchmarks/backend_requests.py`: 95–104 against 131–188 µs per container update at
concurrency 16).
This module does exactly that over eventlet green sockets, plus `ConnectionPool` (idle
keep-alive connections per node, each dropped after `MAX_IDLE_AGE` idle seconds, well before
the servers give up on an idle client) and the rule for retrying on a fresh connection
(`closed_while_idle`); retries and node choice are the callers' (`proxy.backend_client`,
`storage.backend_client`). Every request head is signed with the cluster's backend secret
(`common.backend_auth`): storage servers refuse unsigned requests.
"""
from __future__ import annotations

import socket
import time
from urllib.parse import quote

from common.backend_auth import AUTH_HEADER
from common.green import eventlet

MAX_LINE = 65536
MAX_HEADERS = 200
CRLF = b"\r\n"


class BackendError(Exception):
    """The node could not be reached, broke the protocol, or cut the connection."""


class ShortRead(BackendError):
    """The connection ended before the announced body length was read."""


class BackendTimeout(BackendError):
    """The node did not connect, accept bytes or answer within the time allowed: it is slow
    (or gone), unlike a kept-alive connection it closed while idle."""


def socket_failure(what: str, exc: OSError) -> BackendError:
    """The `BackendError` for an `OSError` of a socket call: a `BackendTimeout` when the
    socket's own timeout expired."""
    kind = BackendTimeout if isinstance(exc, TimeoutError) else BackendError
    return kind(f"{what}: {exc}" if what else str(exc))


def quote_path(path: str) -> str:
    return quote(path.encode("utf-8", "surrogateescape"), safe="/")


class BackendResponse:
    """A parsed response head and a reader for its body (content-length or chunked)."""

    __slots__ = (
        "status",
        "reason",
        "headers",
        "_conn",
        "_remaining",
        "_chunked",
        "_chunk_left",
        "_done",
        "_keep_alive",
    )

    def __init__(self, conn: BackendConnection, status: int, reason: str, headers: dict,
                 method: str, keep_alive: bool):
        self.status = status
        self.reason = reason
        self.headers = headers
        self._conn = conn
        self._chunked = False
        self._chunk_left = 0
        self._remaining: int | None = None
        self._keep_alive = keep_alive
        self._done = False
        if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
            self._remaining = 0
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            self._chunked = True
        elif "content-length" in headers:
            try:
                self._remaining = int(headers["content-length"])
            except ValueError:
                raise BackendError("bad content-length from backend") from None
        else:
            self._keep_alive = False  # body runs until the connection closes
        if self._remaining == 0:
            self._finish()

    def getheader(self, name: str, default=None):
        return self.headers.get(name.lower(), default)

    @property
    def finished(self) -> bool:
        """Whether the whole body has been read (or the response closed): `read` gives b''."""
        return self._done

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        return int(value) if value is not None and value.isdigit() else None

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        conn, self._conn = self._conn, None
        if conn is not None:
            if self._keep_alive:
                conn.release()
            else:
                conn.close()

    def read(self, amt: int = 65536) -> bytes:
        """Up to `amt` bytes of body; b'' at the end. Raises ShortRead/BackendError."""
        if self._done:
            return b""
        conn = self._conn
        try:
            if self._chunked:
                return self._read_chunked(conn, amt)
            if self._remaining is None:
                data = conn.rfile.read1(amt)
                if not data:
                    self._finish()
                return data
            data = conn.rfile.read1(min(amt, self._remaining))
        except OSError as exc:
            self.close()
            raise socket_failure("read failed", exc) from None
        except ValueError as exc:
            self.close()
            raise BackendError(f"read failed: {exc}") from None
        if not data:
            self.close()
            raise ShortRead("connection closed before the end of the body")
        self._remaining -= len(data)
        if self._remaining <= 0:
            self._finish()
        return data

    def _read_chunked(self, conn, amt: int) -> bytes:
        if self._chunk_left == 0:
            line = conn.rfile.readline(MAX_LINE)
            if not line.endswith(CRLF):
                self.close()
                raise ShortRead("chunked body cut")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close()
                raise BackendError("bad chunk size from backend") from None
            if size == 0:
                while True:  # trailers
                    trailer = conn.rfile.readline(MAX_LINE)
                    if not trailer:
                        self.close()
                        raise ShortRead("chunked body cut")
                    if trailer == CRLF:
                        break
                self._finish()
                return b""
            self._chunk_left = size
        data = conn.rfile.read1(min(amt, self._chunk_left))
        if not data:
            self.close()
            raise ShortRead("chunked body cut")
        self._chunk_left -= len(data)
        if self._chunk_left == 0 and conn.rfile.read(2) != CRLF:
            self.close()
            raise BackendError("bad chunk terminator from backend")
        return data

    def read_all(self, limit: int) -> bytes:
        """The whole body, refusing more than `limit` bytes (for small JSON bodies only)."""
        parts = []
        total = 0
        while True:
            data = self.read(65536)
            if not data:
                return b"".join(parts)
            total += len(data)
            if total > limit:
                self.close()
                raise BackendError("backend body larger than expected")
            parts.append(data)

    def drain_and_release(self, limit: int = 65536) -> None:
        """Finish a small unwanted body so the connection can be reused; else close."""
        try:
            if self._remaining is not None and self._remaining <= limit:
                while not self._done:
                    self.read(limit)
                return
        except BackendError:
            return
        self.close()

    def close(self) -> None:
        """Done with it, whatever is left unread: the connection is closed, never reused."""
        self._keep_alive = False
        self._finish()


class BackendConnection:
    """One TCP connection to a node; may be returned to its pool after a complete response."""

    __slots__ = ("host", "port", "sock", "rfile", "pool", "reused", "method")

    def __init__(self, host: str, port: int, sock, pool=None):
        self.host = host
        self.port = port
        self.sock = sock
        self.rfile = sock.makefile("rb", 65536)
        self.pool = pool
        self.reused = False
        self.method = "GET"

    @classmethod
    def open(cls, host: str, port: int, timeout: float, pool=None) -> BackendConnection:
        try:
            with eventlet.Timeout(timeout):
                sock = eventlet.connect((host, port))
        except eventlet.Timeout:
            raise BackendTimeout(f"connect to {host}:{port} timed out") from None
        except OSError as exc:
            raise socket_failure(f"connect to {host}:{port} failed", exc) from None
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(host, port, sock, pool)

    def send_head(self, method: str, path: str, headers: dict, auth, body: bytes | None = None,
                  query: str = "", trans_id: str | None = None) -> None:
        """Send the request line and headers (and a small body), signed with `auth` (a
        `common.backend_auth.BackendAuth`); `trans_id` goes along as `X-Trans-Id`."""
        self.method = method
        target = quote_path(path) + ("?" + query if query else "")
        lines = [f"{method} {target} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"]
        for name, value in headers.items():
            lines.append(f"{name}: {value}\r\n")
        lines.append(f"{AUTH_HEADER}: {auth.sign(method, path, headers, query)}\r\n")
        if trans_id is not None:
            lines.append(f"X-Trans-Id: {trans_id}\r\n")
        lines.append("\r\n")
        data = "".join(lines).encode("latin-1", "replace")
        if body:
            data += body
        self.send(data)

    def send(self, data: bytes) -> None:
        if self.sock is None:
            raise BackendError("connection already closed")
        try:
            self.sock.sendall(data)
        except OSError as exc:
            self.close()
            raise socket_failure("send failed", exc) from None

    def send_chunk(self, data: bytes) -> None:
        if data:
            self.send(b"%x\r\n%s\r\n" % (len(data), data))

    def end_chunks(self) -> None:
        self.send(b"0\r\n\r\n")

    def read_response(self, timeout: float, expect_continue: bool = False) -> BackendResponse:
        """Read a response head. With expect_continue, a 100 is returned as is (status 100)."""
        try:
            with eventlet.Timeout(timeout):
                while True:
                    status, reason, headers, keep_alive = self._read_head()
                    if status == 100 and expect_continue:
                        return BackendResponse(None, 100, reason, headers, self.method, False)
                    if 100 <= status < 200:
                        continue
                    return BackendResponse(self, status, reason, headers, self.method, keep_alive)
        except eventlet.Timeout:
            self.close()
            raise BackendTimeout(f"{self.host}:{self.port} timed out") from None
        except OSError as exc:
            self.close()
            raise socket_failure(f"{self.host}:{self.port} read failed", exc) from None
        except ValueError as exc:
            self.close()
            raise BackendError(f"{self.host}:{self.port} read failed: {exc}") from None

    def _read_head(self):
        line = self.rfile.readline(MAX_LINE)
        if not line:
            raise BackendError("connection closed before a response")
        parts = line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
            raise BackendError("malformed status line from backend")
        version = parts[0]
        status = int(parts[1])
        reason = parts[2].strip().decode("latin-1") if len(parts) > 2 else ""
        headers: dict[str, str] = {}
        for _ in range(MAX_HEADERS):
            line = self.rfile.readline(MAX_LINE)
            if line in (CRLF, b"\n"):
                break
            if not line:
                raise BackendError("connection closed inside response headers")
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                raise BackendError("malformed header from backend")
            headers[name.strip().lower()] = value.strip(" \t\r\n")
        else:
            raise BackendError("too many headers from backend")
        connection = headers.get("connection", "").lower()
        keep_alive = version == b"HTTP/1.1" and connection != "close"
        return status, reason, headers, keep_alive

    def release(self) -> None:
        if self.pool is not None:
            self.pool.put_back(self)
        else:
            self.close()

    def close(self) -> None:
        sock, self.sock = self.sock, None
        if sock is not None:
            try:
                self.rfile.close()
                sock.close()
            except OSError:
                pass


def closed_while_idle(exc: BackendError) -> bool:
    """Whether a failure on a reused connection looks like the node closed it while idle
    (as opposed to a timeout, which says the node itself is slow)."""
    return not isinstance(exc, BackendTimeout)


MAX_IDLE_AGE = 20.0  # seconds; well under the servers' client_timeout (60 s by default)


class ConnectionPool:
    """Idle keep-alive connections per (ip, port), at most `max_idle` each."""

    def __init__(self, max_idle: int, max_idle_age: float = MAX_IDLE_AGE):
        self.max_idle = max_idle
        self.max_idle_age = max_idle_age
        self._idle: dict[tuple, list[tuple[float, BackendConnection]]] = {}

    def get(self, host: str, port: int, conn_timeout: float,
            fresh: bool = False) -> BackendConnection:
        """An idle connection (most recently used first) or, with `fresh`, a new one."""
        idle = self._idle.get((host, port))
        if idle and not fresh:
            oldest_kept = time.monotonic() - self.max_idle_age
            while idle:
                released_at, conn = idle.pop()
                if conn.sock is None:
                    continue
                if released_at < oldest_kept:
                    conn.close()  # the rest are older still
                    for _at, old in idle:
                        old.close()
                    idle.clear()
                    break
                conn.reused = True
                return conn
        return BackendConnection.open(host, port, conn_timeout, pool=self)

    def put_back(self, conn: BackendConnection) -> None:
        if conn.sock is None:
            return
        idle = self._idle.setdefault((conn.host, conn.port), [])
        if len(idle) >= self.max_idle:
            conn.close()
        else:
            conn.reused = False
            idle.append((time.monotonic(), conn))

    def discard_idle(self, host: str, port: int) -> None:
        """Close every idle connection to a node (one of them was found dead)."""
        for _at, conn in self._idle.pop((host, port), ()):
            conn.close()

    def idle(self, host: str, port: int) -> list[BackendConnection]:
        """The idle connections to a node, oldest first (a copy)."""
        return [conn for _at, conn in self._idle.get((host, port), ())]

    def close_idle(self) -> None:
        """Close every idle connection."""
        while self._idle:
            _address, idle = self._idle.popitem()
            for _at, conn in idle:
                conn.close()
