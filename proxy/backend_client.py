"""Choosing storage nodes and sending them requests: node order, error limiting, keep-alive.

- `ErrorLimiter` remembers nodes that failed recently; after `limit` errors within
  `interval` seconds a node is skipped until `interval` has passed since its last error.
- `common.backend_http.ConnectionPool` keeps its few idle keep-alive connections per node.
- `BackendClient.iter_nodes` yields a partition's primaries then handoffs, skipping
  error-limited nodes, and as a last resort the error-limited primaries (an overloaded
  but alive cluster must not answer 503 just because every node was once slow);
  `request` sends one request to one node, signed with the cluster's backend secret. When a
  reused idle connection turns out to be dead, the request is sent again on a fresh
  connection and nothing is counted against the node (the node merely closed an idle
  connection).
"""
from __future__ import annotations

import logging
import time

from common.backend_http import (
    BackendConnection,
    BackendError,
    BackendResponse,
    ConnectionPool,
    closed_while_idle,
)
from proxy.transaction import TRANS_ID

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


class BackendClient:
    """Sends requests to storage nodes with the proxy's timeouts and error limiting."""

    def __init__(
        self,
        conn_timeout: float,
        node_timeout: float,
        error_limit: int,
        error_interval: float,
        max_idle: int = 16,
        *,
        auth,
    ):
        self.auth = auth  # common.backend_auth.BackendAuth: signs every request
        self.conn_timeout = conn_timeout
        self.node_timeout = node_timeout
        self.limiter = ErrorLimiter(error_limit, error_interval)
        self.pool = ConnectionPool(max_idle)

    def iter_nodes(self, ring, part: int, primaries: list[dict] | None = None, handoffs=None):
        """Primaries, then up to as many handoffs, skipping error-limited nodes; finally
        the error-limited primaries, so a request is never refused without trying them."""
        if primaries is None:
            primaries = ring.get_part_nodes(part)
        limiter = self.limiter
        skipped = []
        for node in primaries:
            if limiter.is_limited(node):
                skipped.append(node)
            else:
                yield node
        allowed = handoffs if handoffs is not None else max(len(primaries), 1)
        yielded = 0
        for node in ring.get_more_nodes(part):
            if yielded >= allowed:
                break
            yielded += 1
            if not limiter.is_limited(node):
                yield node
        yield from skipped

    def record_error(self, node: dict) -> None:
        self.limiter.record_error(node)

    def _connection(self, node: dict, fresh: bool) -> BackendConnection:
        try:
            return self.pool.get(node["ip"], node["port"], self.conn_timeout, fresh=fresh)
        except BackendError:
            self.limiter.record_error(node)
            raise

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
            conn = self._connection(node, fresh=attempt > 0)
            reused = conn.reused
            try:
                conn.send_head(method, full_path, headers, self.auth, body, query,
                               trans_id=TRANS_ID.get())
                response = conn.read_response(timeout)
            except BackendError as exc:
                conn.close()
                if reused and attempt == 0 and closed_while_idle(exc):
                    self.pool.discard_idle(node["ip"], node["port"])
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
            conn = self._connection(node, fresh=attempt > 0)
            reused = conn.reused
            try:
                conn.send_head("PUT", full_path, headers, self.auth, trans_id=TRANS_ID.get())
                response = conn.read_response(self.node_timeout, expect_continue=True)
                break
            except BackendError as exc:
                conn.close()
                if reused and attempt == 0 and closed_while_idle(exc):
                    # an idle connection the node had already closed: not the node's fault
                    self.pool.discard_idle(node["ip"], node["port"])
                    continue
                self.limiter.record_error(node)
                raise
        if response.status == 100:
            return conn, None
        self.note_status(node, response.status)
        return None, response
