"""Dynamic large objects: a manifest with `X-Object-Manifest: <container>/<prefix>`.

GET/HEAD of the manifest lists `<container>` by `<prefix>` (as the requesting user) and
serves the concatenation of the listed objects in name order. ETag is the quoted md5 of the
segments' ETags joined; a single byte range is honoured. Segments are read as stored
(Swift's rule): a manifest among them, the DLO itself included, contributes its own bytes
and is never expanded, so a DLO cannot recurse.
"""
from __future__ import annotations

import json
from urllib.parse import quote, unquote

from proxy.responses import RawResponse, client_headers, error
from proxy.segments import (
    Segment,
    body_headers,
    large_object_etag,
    parse_range,
    stream_response,
)

LISTING_PAGE = 10000
MAX_PAGES = 10  # at most 100 000 segments held as (path, size, etag)
MAX_LISTING_BYTES = 16 * 1024 * 1024


def list_segments(app, environ, account: str, container: str, prefix: str):
    """All objects under prefix, in order, or an error response."""
    segments: list[Segment] = []
    marker = ""
    for _ in range(MAX_PAGES):
        query = f"format=json&prefix={quote(prefix)}&limit={LISTING_PAGE}"
        if marker:
            query += f"&marker={quote(marker)}"
        response = app.subrequest(environ, "GET", f"/v1/{account}/{container}", query=query)
        if response.status == 204:
            break
        if response.status != 200:
            return None, response.status
        body = _read_body(response.app_iter, MAX_LISTING_BYTES)
        try:
            entries = json.loads(body)
        except ValueError:
            return None, 503
        for entry in entries:
            if "name" not in entry:
                continue
            segments.append(Segment(f"/{container}/{entry['name']}", int(entry.get("bytes", 0)),
                                    str(entry.get("hash", "")).strip('"')))
        if len(entries) < LISTING_PAGE:
            break
        marker = entries[-1]["name"]
    return segments, 200


def _read_body(app_iter, limit: int) -> bytes:
    parts = []
    total = 0
    try:
        for chunk in app_iter:
            total += len(chunk)
            if total > limit:
                raise ValueError("listing too large")
            parts.append(chunk)
    finally:
        close = getattr(app_iter, "close", None)
        if close is not None:
            close()
    return b"".join(parts)


def handle_get(app, environ, target, manifest_headers: dict, request_headers: dict):
    value = unquote(manifest_headers["x-object-manifest"]).lstrip("/")
    container, _, prefix = value.partition("/")
    segments, status = list_segments(app, environ, target.account, container, prefix)
    if segments is None:
        return error(status if status in (401, 403, 404) else 503,
                     f"cannot list segments of {container}")
    total = sum(s.size for s in segments)
    etag = large_object_etag(segments)
    base = client_headers(manifest_headers)
    byte_range = parse_range(request_headers.get("range"), total)
    if byte_range == "unsatisfiable":
        return error(416, "requested range not satisfiable",
                     [("Content-Range", f"bytes */{total}")])
    if environ["REQUEST_METHOD"] == "HEAD":
        return RawResponse(200, body_headers(base, total, etag, None, total))
    # Segments are read as stored: a manifest listed under the prefix (this one included)
    # is served as its own bytes, as the listing's size and ETag describe it, never expanded.
    return stream_response(app, environ, target.account, segments, base, etag, byte_range,
                           total, as_stored=True)
