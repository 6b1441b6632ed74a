"""Choosing storage nodes and sending them requests: node order, error limiting, keep-alive.

- `ErrorLimiter` remembers nodes that failed recently; after `limit` errors within
  `interval` seconds a node is skipped until `interval` has passed since its last error.
- `ConnectionPool` keeps a few idle keep-alive connections per node address.
- `BackendClient.iter_nodes` yields a partition's primaries then handoffs, skipping
  error-limited nodes; `request` sends one request to one node (retrying once on a fresh
  connection when a reused idle connection turns out to be dead).
"""
from __future__ import annotations

import logging
import time

from proxy.backend_http import BackendConnection, BackendError, BackendResponse

LOG = logging.getLogger("brume.proxy")


def node_key(node: dict) -> str:
    return f"{node['ip']}:{node['port']}/{node['device']}"


class ErrorLimiter:
    """Counts errors per node and says when a node should be skipped."""

    def __init__(self, limit: int, interval: float):
        self.limit = limit
        self.interval = interval
        self._errors: dict[str, list] = {}

    def is_limited(self, node: dict, now: float | None = None) -> bool:
        entry = self._errors.get(node_key(node))
        if entry is None:
            return False
        now = time.monotonic() if now is None else now
        if now - entry[1] > self.interval:
            del self._errors[node_key(node)]
            return False
        return entry[0] > self.limit

    def record_error(self, node: dict, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        key = node_key(node)
        entry = self._errors.get(key)
        if entry is None or now - entry[1] > self.interval:
            self._errors[key] = [1, now]
        else:
            entry[0] += 1
            entry[1] = now
            if entry[0] == self.limit + 1:
                LOG.warning("node %s error-limited for %ss after %d errors", key,
                            self.interval, entry[0])

    def limit_now(self, node: dict, now: float | None = None) -> None:
        """Skip this node right away (e.g. it answered 507: its device is gone)."""
        self._errors[node_key(node)] = [
            self.limit + 1,
            time.monotonic() if now is None else now,
        ]


class ConnectionPool:
    """Idle keep-alive connections per (ip, port), at most `max_idle` each."""

    def __init__(self, max_idle: int):
        self.max_idle = max_idle
        self._idle: dict[tuple, list[BackendConnection]] = {}

    def get(self, host: str, port: int, conn_timeout: float) -> BackendConnection:
        idle = self._idle.get((host, port))
        while idle:
            conn = idle.pop()
            if conn.sock is not None:
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
            idle.append(conn)


class BackendClient:
    """Sends requests to storage nodes with the proxy's timeouts and error limiting."""

    def __init__(
        self,
        conn_timeout: float,
        node_timeout: float,
        error_limit: int,
        error_interval: float,
        max_idle: int = 16,
    ):
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.limiter = ErrorLimiter(error_limit, error_interval)
        self.pool = ConnectionPool(max_idle)

    def iter_nodes(self, ring, part: int, primaries: list[dict] | None = None, handoffs=None):
        """Primaries, then up to as many handoffs, skipping error-limited nodes."""
        if primaries is None:
            primaries = ring.get_part_nodes(part)
        limiter = self.limiter
        for node in primaries:
            if not limiter.is_limited(node):
                yield node
        allowed = handoffs if handoffs is not None else max(len(primaries), 1)
        yielded = 0
        for node in ring.get_more_nodes(part):
            if yielded >= allowed:
                return
            yielded += 1
            if not limiter.is_limited(node):
                yield node

    def record_error(self, node: dict) -> None:
        self.limiter.record_error(node)

    def note_status(self, node: dict, status: int) -> None:
        """Count server-side failures against the node."""
        if status == 507:
            self.limiter.limit_now(node)
        elif status >= 500:
            self.limiter.record_error(node)

    def request(
        self,
        node: dict,
        part: int | str,
        method: str,
        path: str,
        headers: dict,
        body: bytes | None = None,
        timeout: float | None = None,
        query: str = "",
    ) -> BackendResponse:
        """One request to one node; raises BackendError (already counted against the node)."""
        full_path = f"/{node['device']}/{part}{path}"
        if body is not None:
            headers = dict(headers)
            headers["Content-Length"] = str(len(body))
        timeout = self.node_timeout if timeout is None else timeout
        for attempt in (0, 1):
            try:
                conn = self.pool.get(node["ip"], node["port"], self.conn_timeout)
            except BackendError:
                self.limiter.record_error(node)
                raise
            reused = conn.reused
            try:
                conn.send_head(method, full_path, headers, body, query)
                response = conn.read_response(timeout)
            except BackendError:
                conn.close()
                if reused and attempt == 0:
                    continue
                self.limiter.record_error(node)
                raise
            self.note_status(node, response.status)
            return response
        raise BackendError("unreachable")  # pragma: no cover

    def open_put(self, node: dict, part: int | str, path: str, headers: dict):
        """Send a PUT head with Expect: 100-continue (on an idle keep-alive one if any).

        Returns (connection, None) when the node said 100 Continue, or (None, response)
        when it answered early with a final status. Raises BackendError (counted).
        """
        full_path = f"/{node['device']}/{part}{path}"
        for attempt in (0, 1):
            try:
                conn = self.pool.get(node["ip"], node["port"], self.conn_timeout)
            except BackendError:
                self.limiter.record_error(node)
                raise
            reused = conn.reused
            try:
                conn.send_head("PUT", full_path, headers)
                response = conn.read_response(self.node_timeout, expect_continue=True)
                break
            except BackendError:
                conn.close()
                if reused and attempt == 0:
                    continue  # an idle connection the node had already closed
                self.limiter.record_error(node)
                raise
        if response.status == 100:
            return conn, None
        self.note_status(node, response.status)
        return None, response
