"""Reading from replicas: pick the first node that answers, resume a broken body elsewhere.

`first_answer` walks the nodes (primaries, then handoffs, error-limited ones skipped) until
one gives a definitive answer (2xx, 304, 412, 416...); 404s and failures move on. A copy
older than a tombstone already seen (404 with a newer `X-Backend-Timestamp`) is ignored.
When every node fails, the client gets 404 if any node said so, else 503.

`ResumingBody` is the WSGI app_iter of an object GET. It tracks how many bytes reached the
client; when the node's stream breaks (cut connection, short read, timeout) it asks the
next node for the rest with `Range: bytes=<reached>-<end>` and `If-Match: <etag>` so the
client sees one clean stream. When no node can continue it raises, which makes the server
cut the client connection: a client never receives a clean-looking short body.
"""
from __future__ import annotations

import logging

from common.backend_http import BackendError
from common.fan_out import at_once
from common.green import eventlet
from proxy.transaction import carry

LOG = logging.getLogger("brume.proxy")

DEFINITIVE = frozenset({304, 412, 416})
READ_SIZE = 1024 * 1024  # most bytes taken from a node's stream at a time (object servers
# send 1 MiB spans): fewer reads, timers and client writes per object


class StreamCut(Exception):
    """No replica could continue a broken GET; the client connection must be cut."""


def first_answer(client, node_iter, part, method: str, path: str, headers: dict,
                 query: str = ""):
    """Returns (response, node) of the first definitive answer, or (None, status)."""
    saw_404 = False
    last_status = 503
    newest_delete = ""  # a replica that already saw a newer DELETE outranks a stale copy
    for node in node_iter:
        try:
            response = client.request(node, part, method, path, headers, query=query)
        except BackendError:
            continue
        status = response.status
        if 200 <= status < 300 or status in DEFINITIVE:
            stamp = response.headers.get("x-backend-timestamp")
            if newest_delete and stamp and stamp < newest_delete:
                saw_404 = True
                response.close()
                continue
            return response, node
        if status == 404:
            saw_404 = True
            newest_delete = max(newest_delete, response.headers.get("x-backend-timestamp", ""))
            response.drain_and_release()
            continue
        response.drain_and_release()
        if 400 <= status < 500:
            return None, status
        last_status = status
    return None, 404 if saw_404 else (503 if last_status >= 500 else last_status)


def _stamp(headers: dict) -> str:
    return (headers.get("x-backend-timestamp") or headers.get("x-put-timestamp")
            or headers.get("x-timestamp") or "")


def newest_answer(client, nodes: list, part, method: str, path: str, headers: dict,
                  query: str = ""):
    """`X-Newest: true`: ask every node at once and keep the newest answer.

    Same return shape as `first_answer`; a newer tombstone (404) beats older copies.
    """

    def ask(node):
        try:
            return node, client.request(node, part, method, path, headers, query=query)
        except BackendError:
            return node, None

    answers = at_once(carry(ask), nodes)
    best = None
    best_stamp = ""
    newest_delete = ""
    saw_404 = False
    for node, response in answers:
        if response is None:
            continue
        if 200 <= response.status < 300 or response.status in DEFINITIVE:
            stamp = _stamp(response.headers)
            if best is None or stamp > best_stamp:
                best, best_stamp = (response, node), stamp
        elif response.status == 404:
            saw_404 = True
            newest_delete = max(newest_delete, response.headers.get("x-backend-timestamp", ""))
    for _node, response in answers:
        if response is not None and (best is None or response is not best[0]):
            response.close()
    if best is not None and not (newest_delete and best_stamp and best_stamp < newest_delete):
        return best
    if best is not None:
        best[0].close()
    return None, 404 if saw_404 else 503


def parse_content_range(value: str | None):
    """'bytes 10-19/100' -> (10, 19, 100); None when absent or unusable."""
    if not value or not value.startswith("bytes "):
        return None
    span, _, total = value[6:].partition("/")
    start, _, end = span.partition("-")
    try:
        return int(start), int(end), int(total) if total != "*" else None
    except ValueError:
        return None


class ResumingBody:
    """Iterates a GET body, resuming from other replicas when the stream breaks."""

    def __init__(self, client, response, node_iter, part, path, headers, chunk_size):
        self.client = client
        self.response = response
        self.node_iter = node_iter
        self.part = part
        self.path = path
        self.headers = headers
        self.chunk_size = max(chunk_size, READ_SIZE)
        self.etag = response.headers.get("etag", "").strip('"')
        self.sent = 0
        self.start = 0
        self.end = None  # inclusive, None = unknown
        self.resumable = True
        content_type = response.headers.get("content-type", "")
        if response.status == 206:
            span = parse_content_range(response.headers.get("content-range"))
            if span is None or content_type.startswith("multipart/byteranges"):
                self.resumable = False
            else:
                self.start, self.end = span[0], span[1]
        else:
            length = response.content_length
            if length is None:
                self.resumable = False
            else:
                self.end = length - 1

    def __iter__(self):
        timeout = self.client.node_timeout
        while True:
            response = self.response
            if response is None:
                return
            if response.finished:  # the last chunk ended the body: nothing left to wait for
                self.response = None
                return
            try:
                with eventlet.Timeout(timeout):
                    chunk = response.read(self.chunk_size)
            except (BackendError, eventlet.Timeout) as exc:
                response.close()
                self.response = None
                timed_out = isinstance(exc, eventlet.Timeout)
                self._resume("timed out" if timed_out else str(exc) or "read failed")
                continue
            if not chunk:
                self.response = None
                return
            self.sent += len(chunk)
            yield chunk

    def _resume(self, why: str) -> None:
        if not self.resumable or not self.etag:
            raise StreamCut(f"GET {self.path} broke ({why}) and cannot resume")
        position = self.start + self.sent
        if self.end is not None and position > self.end:
            return
        headers = dict(self.headers)
        headers["Range"] = f"bytes={position}-{'' if self.end is None else self.end}"
        headers["If-Match"] = f'"{self.etag}"'
        headers.pop("If-None-Match", None)
        for node in self.node_iter:
            try:
                response = self.client.request(node, self.part, "GET", self.path, headers)
            except BackendError:
                continue
            span = parse_content_range(response.headers.get("content-range"))
            if response.status == 206 and span is not None and span[0] == position:
                LOG.info("GET %s resumed at byte %d from %s (%s)", self.path, position,
                         node.get("ip"), why)
                self.response = response
                return
            response.close()
        raise StreamCut(f"GET {self.path} broke ({why}) and no replica could continue")

    def close(self) -> None:
        response, self.response = self.response, None
        if response is not None:
            response.close()
