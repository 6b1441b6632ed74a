"""JSON request/response helpers shared by the compute API and the agent's WSGI apps.

Refusals are `common.http_errors.HTTPError`s (rendered in Nova's shape by
`compute.nova_faults`). Request bodies are read in bounded chunks and refused past
`MAX_BODY`; a path or query string that is not UTF-8 is a 400 before any handler sees it
(`request_path`).
"""
from __future__ import annotations

import json

from webob import Request, Response

from common.http_errors import HTTPError
from common.untrusted_json import UntrustedJSONError, parse_untrusted_json

MAX_BODY = 1024 * 1024
CHUNK = 65536

def json_response(status: int, body=None, headers: dict | None = None) -> Response:
    response = Response(status=status, headers=headers or {})
    if body is not None:
        response.content_type = "application/json"
        response.charset = None
        response.body = json.dumps(body).encode("utf-8")
    else:
        response.content_type = None
    return response


def request_path(request: Request) -> str:
    """The request's path as text, once its path and query string are known to be UTF-8
    (webob decodes both lazily and raises on the first use); HTTPError 400 otherwise."""
    try:
        path = request.path_info
        request.GET  # noqa: B018 -- parsed (and cached by webob) now, not in a handler
    except UnicodeDecodeError:
        raise HTTPError(400, "Malformed request URL: not valid UTF-8.") from None
    return path


def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request body, read in chunks; HTTPError 413 beyond `limit` bytes."""
    length = request.content_length
    if length is not None and length > limit:
        raise HTTPError(413, f"Request body too large (limit {limit} bytes).")
    try:
        return _read_chunks(request, length, limit)
    except (OSError, ValueError) as exc:  # the server's chunked decoder raises ValueError
        raise HTTPError(400, f"Request body could not be read: {exc}.") from None


def _read_chunks(request: Request, length: int | None, limit: int) -> bytes:
    stream = request.body_file_seekable if length is None else request.body_file_raw
    parts, total = [], 0
    remaining = length
    while remaining is None or remaining > 0:
        chunk = stream.read(CHUNK if remaining is None else min(CHUNK, remaining))
        if not chunk:
            break
        total += len(chunk)
        if total > limit:
            raise HTTPError(413, f"Request body too large (limit {limit} bytes).")
        parts.append(chunk)
        if remaining is not None:
            remaining -= len(chunk)
    return b"".join(parts)


def parse_json(raw: bytes) -> dict:
    """Decode a JSON object body; HTTPError 400 when it is not one."""
    try:
        body = parse_untrusted_json(raw)
    except UntrustedJSONError as exc:
        raise HTTPError(400, f"Malformed request body: {exc}.") from None
    if not isinstance(body, dict):
        raise HTTPError(400, "Malformed request body: expected a JSON object.")
    return body
