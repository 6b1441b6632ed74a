"""Wire pieces shared by the object and the database replication protocols.

The two backend headers every replication request carries, the device-name check of a
replication path, the short text and msgpack answers, and `drain` for a request body that
is refused before it was read (so the connection can be kept alive).
"""
from __future__ import annotations

import re

import msgpack
from webob import Response

REPLICATION_HEADER = "X-Backend-Replication"
OP_HEADER = "X-Backend-Replicate-Op"
CHUNK = 65536
_DEVICE_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


def valid_device_name(device: str) -> bool:
    """A plain device directory name: no slash, not `.` or `..`."""
    return bool(_DEVICE_RE.match(device)) and device not in (".", "..")


def text_response(status: int, message: str) -> Response:
    """A one-line text answer (only the message's first line: messages may quote input)."""
    line = message.splitlines()[0] if message.strip() else ""
    return Response(status=status, body=line.encode("utf-8", "replace") + b"\n",
                    content_type="text/plain")


def msgpack_response(value, status: int = 200) -> Response:
    return Response(status=status, body=msgpack.packb(value), content_type="application/msgpack")


def drain(stream, length: int) -> None:
    """Read and drop up to `length` bytes of `stream`, in chunks."""
    while length > 0:
        chunk = stream.read(min(CHUNK, length))
        if not chunk:
            return
        length -= len(chunk)
