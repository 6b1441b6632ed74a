"""Streaming one object PUT to all its replicas at once, with bounded memory.

1. Connect: one green thread per replica slot opens a connection and sends the request head
   with `Expect: 100-continue`. A node that cannot be reached, times out, or refuses with 5xx
   or 507 is replaced by the next handoff before any body byte is sent. Bodies no larger
   than one chunk are read first and sent with the head (no 100-continue round trip); a node
   failing them is replaced the same way.
2. Stream: the client body is read in `STREAM_READ_SIZE` pieces and put on one bounded queue per
   backend connection; a sender green thread per connection writes its queue to the socket.
   A node that fails mid-body is dropped; when fewer than a quorum are left the PUT aborts.
3. Finish: the senders end the body and read each node's final answer.

A body of known length that is streamed is hashed here, once: its MD5 and block CRCs follow
it to every node as a footer (`storage.objects.put_footer`), so the object servers check
the CRCs they compute anyway instead of each computing the MD5 again.

Every node that fails a PUT (unreachable, timed out, 5xx, cut mid-body) is logged with its
address and the reason, so an operator can tell why a client got 503.

The caller turns the answers into the client's status with `proxy.quorum.choose_status`.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

from common.backend_http import BackendError
from common.fan_out import at_once
from common.green import eventlet
from proxy.backend_client import node_key
from proxy.quorum import Answer
from proxy.transaction import carry
from storage.objects.put_footer import FOOTER_HEADER, footer_size, make_footer
from storage.objects.writer import BlockCrcs

# Client body bytes read (and sent to each backend) at a time for bodies larger than one
# chunk: far fewer reads, queue hand-offs and socket writes per MiB than 64 KiB steps. Each
# writer's queue holds at most about `queue_depth * chunk_size` bytes, as before.
STREAM_READ_SIZE = 1024 * 1024

LOG = logging.getLogger("brume.proxy")

_END = object()
_ABORT = object()


class ClientReadError(Exception):
    """The client's body could not be read (disconnect, bad chunking, short body)."""


class BodyTooLarge(Exception):
    """The client sent more than the allowed object size."""


class QuorumLost(Exception):
    """Too few nodes remain to reach a quorum."""


@dataclass
class PutJob:
    client: object
    node_iter: object
    part: int
    path: str
    headers_for_slot: object  # callable(slot) -> dict
    replicas: int
    quorum: int
    chunk_size: int
    queue_depth: int
    max_size: int


class _Writer:
    __slots__ = ("slot", "conn", "node", "queue", "alive", "answer", "thread")

    def __init__(self, slot, conn, node, depth):
        self.slot = slot
        self.conn = conn
        self.node = node
        self.queue = eventlet.queue.LightQueue(depth)
        self.alive = True
        self.answer: Answer | None = None
        self.thread = None


def _read_exact(read, size: int) -> bytes:
    try:
        data = read(size)
    except (OSError, ValueError) as exc:
        raise ClientReadError(str(exc) or "client read failed") from None
    return data


def _node_failed(job: PutJob, node: dict, stage: str, reason) -> None:
    LOG.warning("PUT %s: node %s failed %s: %s", job.path, node_key(node), stage, reason)


class _BodyHashes:
    """The MD5 and block CRCs of a streamed body, for its footer."""

    __slots__ = ("md5", "crcs")

    def __init__(self):
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.crcs = BlockCrcs()

    def update(self, chunk: bytes) -> None:
        self.md5.update(chunk)
        self.crcs.update(chunk)

    def footer(self) -> bytes:
        return make_footer(self.md5.hexdigest(), self.crcs.finish())


def _footer_headers(content_length: int) -> dict:
    return {"Content-Length": str(content_length + footer_size(content_length)),
            FOOTER_HEADER: str(content_length)}


def _connect_slot(job: PutJob, slot: int, small_body: bytes | None, extra_headers: dict):
    """Returns (slot, conn, node, answer): conn set when streaming is to follow."""
    client = job.client
    last = Answer(503)
    while True:
        node = next(job.node_iter, None)
        if node is None:
            return slot, None, None, last
        headers = job.headers_for_slot(slot)
        headers.update(extra_headers)
        if small_body is not None:
            # Nothing to gain from 100-continue: the body is in memory and a refusing node
            # is simply replaced by the next one.
            try:
                response = client.request(node, job.part, "PUT", job.path, headers, small_body)
            except BackendError as exc:
                _node_failed(job, node, "the request", exc)
                continue
            answer = Answer(response.status, response.headers, node)
            response.drain_and_release()
            if response.status >= 500:
                _node_failed(job, node, "the request", f"status {response.status}")
                last = answer
                continue
            return slot, None, node, answer
        headers["Expect"] = "100-continue"
        try:
            conn, early = client.open_put(node, job.part, job.path, headers)
        except BackendError as exc:
            _node_failed(job, node, "before the body", exc)
            continue
        if conn is None:
            answer = Answer(early.status, early.headers, node)
            early.close()
            if early.status >= 500:
                _node_failed(job, node, "before the body", f"status {early.status}")
                last = answer
                continue
            return slot, None, node, answer
        return slot, conn, node, None


def _sender(job: PutJob, writer: _Writer, chunked: bool) -> None:
    conn = writer.conn
    timeout = job.client.node_timeout
    while True:
        item = writer.queue.get()
        if item is _ABORT:
            conn.close()
            writer.alive = False
            return
        if item is _END:
            break
        if not writer.alive:
            continue
        try:
            with eventlet.Timeout(timeout):
                if chunked:
                    conn.send_chunk(item)
                else:
                    conn.send(item)
        except (BackendError, eventlet.Timeout) as exc:
            _node_failed(job, writer.node, "mid-body", exc if str(exc) else "timed out")
            writer.alive = False
            conn.close()
            job.client.record_error(writer.node)
    if not writer.alive:
        return
    try:
        if chunked:
            conn.end_chunks()
        response = conn.read_response(timeout)
    except BackendError as exc:
        _node_failed(job, writer.node, "after the body", exc)
        writer.alive = False
        job.client.record_error(writer.node)
        return
    if response.status >= 500:
        _node_failed(job, writer.node, "after the body", f"status {response.status}")
    writer.answer = Answer(response.status, response.headers, writer.node)
    job.client.note_status(writer.node, response.status)
    response.drain_and_release()


def put_object(job: PutJob, read, content_length: int | None) -> tuple[list[Answer], int]:
    """Stream the body from `read(n)` to the replicas.

    Returns (one Answer per replica slot, in slot order; the number of body bytes).

    Raises ClientReadError (client body broken or short), BodyTooLarge, QuorumLost.
    """
    small_body = None
    if content_length is not None and content_length <= job.chunk_size:
        small_body = _read_exact(read, content_length) if content_length else b""
        if len(small_body) != content_length:
            raise ClientReadError("request body shorter than Content-Length")
    hashes = None
    extra_headers = {}
    if small_body is None and content_length is not None:
        hashes = _BodyHashes()
        extra_headers = _footer_headers(content_length)
    connected = at_once(carry(lambda s: _connect_slot(job, s, small_body, extra_headers)),
                        range(job.replicas))
    answers: list[Answer] = [answer or Answer(503) for _s, _c, _n, answer in connected]
    if small_body is not None:
        return answers, len(small_body)
    read_size = max(job.chunk_size, STREAM_READ_SIZE)
    depth = max(2, job.queue_depth * job.chunk_size // read_size)
    writers = [_Writer(slot, conn, node, depth)
               for slot, conn, node, _a in connected if conn]
    if len(writers) < job.quorum:
        for writer in writers:
            writer.conn.close()
        return answers, 0
    chunked = content_length is None
    for writer in writers:
        writer.thread = eventlet.spawn(_sender, job, writer, chunked)
    try:
        total = _pump(job, writers, read, content_length, read_size, hashes)
        if hashes is not None:
            footer = hashes.footer()
            for writer in writers:
                writer.queue.put(footer)
    except BaseException:
        for writer in writers:
            writer.queue.put(_ABORT)
        for writer in writers:
            writer.thread.wait()
        raise
    for writer in writers:
        writer.queue.put(_END)
    for writer in writers:
        writer.thread.wait()
        answers[writer.slot] = writer.answer or Answer(503)
    return answers, total


def _pump(job: PutJob, writers: list[_Writer], read, content_length: int | None,
          chunk_size: int, hashes: _BodyHashes | None) -> int:
    total = 0
    while True:
        if content_length is not None:
            wanted = min(chunk_size, content_length - total)
            if wanted <= 0:
                return total
        else:
            wanted = chunk_size
        chunk = _read_exact(read, wanted)
        if not chunk:
            if content_length is not None and total < content_length:
                raise ClientReadError("request body shorter than Content-Length")
            return total
        total += len(chunk)
        if total > job.max_size:
            raise BodyTooLarge()
        if hashes is not None:
            hashes.update(chunk)
        alive = 0
        for writer in writers:
            if writer.alive:
                writer.queue.put(chunk)
                alive += 1
        if alive < job.quorum:
            raise QuorumLost()
