"""Static large objects: `?multipart-manifest=put|get|delete` and streaming their segments.

PUT takes a JSON list `[{"path": "/cont/obj", "etag": ..., "size_bytes": ...}, ...]`
(etag/size may be null), HEADs every segment (as the user) and refuses mismatches with 400
and the reasons on one line, as well as a manifest listing itself or nesting more than
`MAX_MANIFEST_DEPTH` manifests (each SLO stores its depth in sysmeta). The stored manifest
is Swift's format `[{"name", "bytes", "hash", "content_type", "last_modified"}]` with
`X-Static-Large-Object: True` plus sysmeta holding the large object's ETag and size, so a
HEAD needs no manifest read. GET streams the segments (single byte range honoured);
`?multipart-manifest=get` returns the stored JSON; `?multipart-manifest=delete` deletes
every segment, then the manifest.
"""
from __future__ import annotations

import io
import json

from common import constraints
from common.green import eventlet
from common.untrusted_json import UntrustedJSONError, parse_untrusted_json
from proxy.backend_http import BackendError
from proxy.dlo import _read_body
from proxy.get_resume import StreamCut
from proxy.object_headers import lower_headers
from proxy.responses import RawResponse, client_headers, error
from proxy.segments import (
    MAX_MANIFEST_DEPTH,
    Segment,
    body_headers,
    large_object_etag,
    parse_range,
    stream_response,
)
from proxy.transaction import carry

SYSMETA_ETAG = "x-object-sysmeta-slo-etag"
SYSMETA_SIZE = "x-object-sysmeta-slo-size"
SYSMETA_DEPTH = "x-object-sysmeta-slo-depth"  # manifests nested in it, itself included
HEAD_CONCURRENCY = 10


def _bad(reason: str):
    return error(400, reason)


def _parse_put_body(body: bytes, max_segments: int):
    try:
        entries = parse_untrusted_json(body)
    except UntrustedJSONError as exc:
        return None, f"manifest: {exc}"
    if not isinstance(entries, list) or not entries:
        return None, "manifest must be a non-empty JSON list"
    if len(entries) > max_segments:
        return None, f"too many segments; max {max_segments}"
    parsed = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            return None, f"segment {index}: not a JSON object"
        unknown = set(entry) - {"path", "etag", "size_bytes"}
        if unknown:
            return None, f"segment {index}: unsupported key {sorted(unknown)[0]!r}"
        path = entry.get("path")
        if not isinstance(path, str) or path.count("/") < 2 or not path.startswith("/"):
            return None, f"segment {index}: path must be /<container>/<object>"
        container, _, obj = path[1:].partition("/")
        if not container or not obj:
            return None, f"segment {index}: path must be /<container>/<object>"
        etag = entry.get("etag")
        size = entry.get("size_bytes")
        if etag is not None and not isinstance(etag, str):
            return None, f"segment {index}: etag must be a string or null"
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            return None, f"segment {index}: size_bytes must be a non-negative integer or null"
        parsed.append((path, etag.strip('"') if etag else None, size))
    return parsed, ""


def handle_put(app, environ, target):
    headers = lower_headers(environ)
    length = headers.get("content-length")
    if length is None or not length.isdigit():
        return error(411, "manifest PUT needs a Content-Length")
    if int(length) > app.max_manifest_size:
        return error(413, f"manifest larger than {app.max_manifest_size} bytes")
    try:
        body = environ["wsgi.input"].read(int(length))
    except (OSError, ValueError) as exc:
        return error(499, f"client body incomplete: {exc}")
    if len(body) != int(length):
        return error(499, "client body incomplete")
    parsed, reason = _parse_put_body(body, app.max_manifest_segments)
    if parsed is None:
        return _bad(reason)

    own_path = f"/{target.container}/{target.obj}"
    if any(path == own_path for path, _etag, _size in parsed):
        return _bad(f"{own_path} cannot be a segment of itself")

    def head(item):
        path, _etag, _size = item
        # internal: a sub-SLO's answer carries its nesting depth (SYSMETA_DEPTH)
        return app.subrequest(environ, "HEAD", f"/v1/{target.account}{path}", internal=True)

    pool = eventlet.GreenPool(HEAD_CONCURRENCY)
    problems = []
    manifest = []
    segments = []
    nested = 0  # deepest manifest among the segments
    for (path, etag, size), response in zip(parsed, pool.imap(carry(head), parsed), strict=True):
        if response.status == 404:
            problems.append(f"{path}: 404 Not Found")
            continue
        if not 200 <= response.status < 300:
            problems.append(f"{path}: {response.status}")
            continue
        real_etag = (response.header("Etag") or "").strip('"')
        real_size = int(response.header("Content-Length") or 0)
        if etag is not None and etag != real_etag:
            problems.append(f"{path}: Etag Mismatch")
        if size is not None and size != real_size:
            problems.append(f"{path}: Size Mismatch")
        entry = {
            "name": path,
            "bytes": real_size,
            "hash": real_etag,
            "content_type": response.header("Content-Type") or "application/octet-stream",
            "last_modified": response.header("Last-Modified") or "",
        }
        if (response.header("X-Static-Large-Object") or "").lower() == "true":
            entry["sub_slo"] = True
            nested = max(nested, _depth_of(response))
        elif response.header("X-Object-Manifest") is not None:
            nested = max(nested, 1)  # a DLO reads its own segments as stored
        manifest.append(entry)
        segments.append(Segment(path, real_size, real_etag))
    if problems:
        return _bad("bad segments: " + "; ".join(problems[:20]))
    if nested + 1 > MAX_MANIFEST_DEPTH:
        return _bad(f"segments nest deeper than {MAX_MANIFEST_DEPTH} manifests")
    total = sum(s.size for s in segments)
    if total > constraints.MAX_FILE_SIZE * 1000:
        return error(413, "large object too large")
    slo_etag = large_object_etag(segments)
    client_etag = headers.get("etag", "").strip('"')
    if client_etag and client_etag != slo_etag:
        return error(422, "ETag does not match the large object")
    manifest_body = json.dumps(manifest, separators=(",", ":")).encode()
    put_headers = {
        name: value for name, value in headers.items()
        if name.startswith("x-object-meta-") or name in (
            "content-type", "content-encoding", "content-disposition", "x-delete-at",
            "x-delete-after")
    }
    put_headers["X-Static-Large-Object"] = "True"
    put_headers[SYSMETA_ETAG] = slo_etag
    put_headers[SYSMETA_SIZE] = str(total)
    put_headers[SYSMETA_DEPTH] = str(nested + 1)
    response = app.subrequest(environ, "PUT", f"/v1/{target.account}/{target.container}/"
                              f"{target.obj}", put_headers, body_input=io.BytesIO(manifest_body),
                              content_length=len(manifest_body), internal=True)
    if response.status != 201:
        return response
    return RawResponse(201, [("Etag", f'"{slo_etag}"'), ("Content-Length", "0")], [b""])


def _depth_of(response) -> int:
    """Nesting depth a sub-SLO's internal HEAD reports (1 for manifests stored without it)."""
    text = response.header(SYSMETA_DEPTH) or ""
    return int(text) if text.isascii() and text.isdigit() else 1


def head_from_sysmeta(found: dict, internal: bool = False):
    total = int(found.get(SYSMETA_SIZE, "0") or 0)
    etag = found.get(SYSMETA_ETAG, "")
    headers = body_headers(client_headers(found), total, etag, None, total)
    if internal and SYSMETA_DEPTH in found:
        headers.append((SYSMETA_DEPTH, found[SYSMETA_DEPTH]))
    return RawResponse(200, headers)


def load_manifest(body: bytes):
    """Parse a stored manifest into segments (or None)."""
    try:
        entries = json.loads(body)
        return [Segment(e["name"], int(e["bytes"]), str(e.get("hash", ""))) for e in entries]
    except (ValueError, KeyError, TypeError):
        return None


def handle_get(app, environ, target, response, request_headers: dict):
    found = response.headers
    try:
        segments = load_manifest(response.read_all(app.max_manifest_size))
    except BackendError:
        segments = None
    if segments is None:
        return error(503, "large object manifest unreadable")
    total = sum(s.size for s in segments)
    etag = found.get(SYSMETA_ETAG) or large_object_etag(segments)
    base = client_headers(found)
    if environ["REQUEST_METHOD"] == "HEAD":
        return RawResponse(200, body_headers(base, total, etag, None, total))
    byte_range = parse_range(request_headers.get("range"), total)
    if byte_range == "unsatisfiable":
        return error(416, "requested range not satisfiable",
                     [("Content-Range", f"bytes */{total}")])
    return stream_response(app, environ, target.account, segments, base, etag, byte_range,
                           total)


def handle_delete(app, environ, target):
    path = f"/v1/{target.account}/{target.container}/{target.obj}"
    response = app.subrequest(environ, "GET", path, query="multipart-manifest=get")
    if response.status == 404:
        return error(404, "not found")
    if response.status != 200:
        return error(response.status if response.status in (401, 403) else 503)
    if (response.header("X-Static-Large-Object") or "").lower() != "true":
        _close(response.app_iter)
        return _delete_one(app, environ, path)
    try:
        segments = load_manifest(_read_body(response.app_iter, app.max_manifest_size))
    except (ValueError, StreamCut):
        segments = None
    if segments is None:
        return error(503, "large object manifest unreadable")
    deleted = 0
    not_found = 0
    errors = []
    pool = eventlet.GreenPool(HEAD_CONCURRENCY)
    for segment, answer in zip(segments, pool.imap(carry(
            lambda s: app.subrequest(environ, "DELETE", f"/v1/{target.account}{s.path}")),
            segments), strict=True):
        if answer.status == 404:
            not_found += 1
        elif 200 <= answer.status < 300:
            deleted += 1
        else:
            errors.append([segment.path, f"{answer.status}"])
    if errors:
        return _bulk_result(deleted, not_found, errors, "400 Bad Request")
    answer = app.subrequest(environ, "DELETE", path)
    if answer.status == 404:
        not_found += 1
    elif 200 <= answer.status < 300:
        deleted += 1
    else:
        errors.append([path, f"{answer.status}"])
    return _bulk_result(deleted, not_found, errors, "400 Bad Request" if errors else "200 OK")


def _delete_one(app, environ, path):
    return app.subrequest(environ, "DELETE", path)


def _close(app_iter) -> None:
    close = getattr(app_iter, "close", None)
    if close is not None:
        close()


def _bulk_result(deleted: int, not_found: int, errors: list, status_text: str):
    body = json.dumps({
        "Number Deleted": deleted,
        "Number Not Found": not_found,
        "Response Status": status_text,
        "Response Body": "",
        "Errors": errors,
    }).encode()
    return RawResponse(200, [("Content-Type", "application/json; charset=utf-8"),
                             ("Content-Length", str(len(body)))], [body])
