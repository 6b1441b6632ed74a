"""`slo`: static large objects, `?multipart-manifest=put|get|delete` and their GETs.

    [filter:slo]
    use = egg:brume#slo
    max_manifest_segments = 1000
    max_manifest_size = 8388608

PUT takes a JSON list `[{"path": "/cont/obj", "etag": ..., "size_bytes": ...}, ...]`
(etag/size may be null), HEADs every segment (as the user) and refuses mismatches with 400
and the reasons on one line, as well as a manifest listing itself or nesting more than
`MAX_MANIFEST_DEPTH` manifests (each SLO stores its depth in sysmeta). The stored manifest
is Swift's format `[{"name", "bytes", "hash", "content_type", "last_modified"}]`, written
below as a plain object with `X-Static-Large-Object: True` plus sysmeta holding the large
object's ETag and size, so a HEAD needs no manifest read. A GET/HEAD goes down as sent
(asking for the object's sysmeta); when the answer is an SLO manifest, the middleware streams
its segments through sub-requests (single byte range honoured), a nested SLO being expanded
by this same middleware (within the depth limit and cycle check of `proxy.segments`), so it
sees the app below it, the DLO middleware included. `?multipart-manifest=get` returns the
stored JSON; `?multipart-manifest=delete` deletes every segment, then the manifest.
Sysmeta never goes up past this middleware.
"""
from __future__ import annotations

import io
import json

from common import constraints
from common.config import Option, load_options, positive_int
from common.green import eventlet
from proxy.backend_http import BackendError
from proxy.environ_keys import IDENTITY_KEY, INTERNAL_KEY, SYSMETA_KEY
from proxy.get_resume import StreamCut
from proxy.middleware.manifest_read import (
    close_body,
    first_read,
    manifest_mode,
    whole_manifest,
)
from proxy.middleware.slo_manifest import (
    SYSMETA_DEPTH,
    SYSMETA_ETAG,
    SYSMETA_SIZE,
    depth_of,
    is_slo,
    load_manifest,
    parse_put_body,
    sysmeta_of,
    without_sysmeta,
)
from proxy.object_headers import lower_headers
from proxy.responses import RawResponse, error
from proxy.segments import (
    MAX_MANIFEST_DEPTH,
    Segment,
    body_headers,
    enter_manifest,
    large_object_etag,
    parse_range,
    read_body,
    stream_response,
)
from proxy.subrequest import call, make_environ
from proxy.target import object_target
from proxy.transaction import carry

HEAD_CONCURRENCY = 10
OPTIONS = [
    Option("max_manifest_segments", positive_int, 1000, "segments allowed in an SLO"),
    Option("max_manifest_size", positive_int, 8 * 1024 * 1024, "bytes allowed in an SLO PUT"),
]


def _bad(reason: str):
    return error(400, reason)


class StaticLargeObject:
    def __init__(self, app, max_manifest_segments: int = 1000,
                 max_manifest_size: int = 8 * 1024 * 1024):
        self.app = app
        self.max_manifest_segments = max_manifest_segments
        self.max_manifest_size = max_manifest_size
        self.capabilities = {"slo": {
            "max_manifest_segments": max_manifest_segments,
            "max_manifest_size": max_manifest_size,
            "min_segment_size": 1,
            "yield_frequency": 10,
        }}

    def __call__(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        target = object_target(environ.get("PATH_INFO", ""))
        if target is None:
            return self.app(environ, start_response)
        mode = manifest_mode(environ)
        if method in ("GET", "HEAD"):
            response = self.serve(environ, target)
        elif method == "PUT" and mode == "put" and "HTTP_X_COPY_FROM" not in environ:
            response = self.put_manifest(environ, target)
        elif method == "DELETE" and mode == "delete":
            response = self.delete_manifest(environ, target)
        else:
            return self.app(environ, start_response)
        return response(environ, start_response)

    # -- reads --------------------------------------------------------------------------

    def serve(self, environ, target):
        """A GET/HEAD of an object: an SLO expanded, anything else as the app answered."""
        if manifest_mode(environ) == "get":
            response = call(self.app, environ)
            if is_slo(response):
                response.headers = [(k, v) for k, v in without_sysmeta(response.headers)
                                    if k.lower() != "content-type"]
                response.headers.append(("Content-Type", "application/json; charset=utf-8"))
            return response
        environ[SYSMETA_KEY] = True
        response = first_read(self.app, environ, is_slo)
        if not is_slo(response):
            response.headers = without_sysmeta(response.headers)
            return response
        internal = bool(environ.get(INTERNAL_KEY))
        sysmeta = sysmeta_of(response.headers)
        if environ["REQUEST_METHOD"] == "HEAD" and SYSMETA_SIZE in sysmeta:
            close_body(response)
            return head_fromsysmeta_of(response.headers, sysmeta, internal)
        refusal = enter_manifest(environ, target.path)
        if refusal is not None:
            close_body(response)
            return error(409, refusal)
        response = whole_manifest(self.app, environ, response,
                                  need_body=environ["REQUEST_METHOD"] == "HEAD"
                                  or response.status != 200)
        if not is_slo(response):
            response.headers = without_sysmeta(response.headers)
            return response
        return self.expand(environ, target, response)

    def expand(self, environ, target, response):
        sysmeta = sysmeta_of(response.headers)
        try:
            segments = load_manifest(read_body(response.app_iter, self.max_manifest_size))
        except (ValueError, StreamCut, BackendError):
            segments = None
        if segments is None:
            return error(503, "large object manifest unreadable")
        total = sum(s.size for s in segments)
        etag = sysmeta.get(SYSMETA_ETAG) or large_object_etag(segments)
        base = without_sysmeta(response.headers)
        if environ["REQUEST_METHOD"] == "HEAD":
            return RawResponse(200, body_headers(base, total, etag, None, total))
        byte_range = parse_range(environ.get("HTTP_RANGE"), total)
        if byte_range == "unsatisfiable":
            return error(416, "requested range not satisfiable",
                         [("Content-Range", f"bytes */{total}")])

        def get(path, headers, query):
            sub = make_environ(environ, "GET", path, headers, query)
            return self.serve(sub, object_target(sub["PATH_INFO"]))

        return stream_response(get, target.account, segments, base, etag, byte_range, total)

    # -- manifest PUT ---------------------------------------------------------------------

    def put_manifest(self, environ, target):
        headers = lower_headers(environ)
        length = headers.get("content-length")
        if length is None or not length.isdigit():
            return error(411, "manifest PUT needs a Content-Length")
        if int(length) > self.max_manifest_size:
            return error(413, f"manifest larger than {self.max_manifest_size} bytes")
        try:
            body = environ["wsgi.input"].read(int(length))
        except (OSError, ValueError) as exc:
            return error(499, f"client body incomplete: {exc}")
        if len(body) != int(length):
            return error(499, "client body incomplete")
        parsed, reason = parse_put_body(body, self.max_manifest_segments)
        if parsed is None:
            return _bad(reason)

        own_path = f"/{target.container}/{target.obj}"
        if any(path == own_path for path, _etag, _size in parsed):
            return _bad(f"{own_path} cannot be a segment of itself")

        def head(item):
            path, _etag, _size = item
            # internal: a sub-SLO's answer carries its nesting depth (SYSMETA_DEPTH)
            sub = make_environ(environ, "HEAD", f"/v1/{target.account}{path}", internal=True)
            sub_target = object_target(sub["PATH_INFO"])
            if sub_target is None:
                return error(400, "bad segment path")
            return self.serve(sub, sub_target)

        pool = eventlet.GreenPool(HEAD_CONCURRENCY)
        problems = []
        unauthorized = False
        manifest = []
        segments = []
        nested = 0  # deepest manifest among the segments
        for (path, etag, size), response in zip(parsed, pool.imap(carry(head), parsed),
                                                 strict=True):
            if response.status == 404:
                problems.append(f"{path}: 404 Not Found")
                continue
            if not 200 <= response.status < 300:
                unauthorized = unauthorized or response.status == 401
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
            if is_slo(response):
                entry["sub_slo"] = True
                nested = max(nested, depth_of(response))
            elif response.header("X-Object-Manifest") is not None:
                nested = max(nested, 1)  # a DLO reads its own segments as stored
            manifest.append(entry)
            segments.append(Segment(path, real_size, real_etag))
        if unauthorized and environ.get(IDENTITY_KEY) is None:
            # Anonymous: the manifest could not be written anyway (write ACLs name users).
            return error(401, "unauthorized")
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
        response = call(self.app, make_environ(
            environ, "PUT", f"/v1/{target.account}/{target.container}/{target.obj}",
            put_headers, body_input=io.BytesIO(manifest_body),
            content_length=len(manifest_body), internal=True))
        if response.status != 201:
            return response
        close_body(response)
        return RawResponse(201, [("Etag", f'"{slo_etag}"'), ("Content-Length", "0")], [b""])

    # -- manifest DELETE ----------------------------------------------------------------------

    def delete_manifest(self, environ, target):
        path = f"/v1/{target.account}/{target.container}/{target.obj}"
        response = call(self.app, make_environ(environ, "GET", path,
                                               query="multipart-manifest=get"))
        if response.status == 404:
            close_body(response)
            return error(404, "not found")
        if response.status != 200:
            close_body(response)
            return error(response.status if response.status in (401, 403) else 503)
        if not is_slo(response):
            close_body(response)
            return self._delete(environ, path)
        try:
            segments = load_manifest(read_body(response.app_iter, self.max_manifest_size))
        except (ValueError, StreamCut, BackendError):
            segments = None
        if segments is None:
            return error(503, "large object manifest unreadable")
        deleted = 0
        not_found = 0
        errors = []
        pool = eventlet.GreenPool(HEAD_CONCURRENCY)
        answers = pool.imap(carry(lambda s: self._delete(
            environ, f"/v1/{target.account}{s.path}")), segments)
        for segment, answer in zip(segments, answers, strict=True):
            if answer.status == 404:
                not_found += 1
            elif 200 <= answer.status < 300:
                deleted += 1
            else:
                errors.append([segment.path, f"{answer.status}"])
        if errors:
            return _bulk_result(deleted, not_found, errors, "400 Bad Request")
        answer = self._delete(environ, path)
        if answer.status == 404:
            not_found += 1
        elif 200 <= answer.status < 300:
            deleted += 1
        else:
            errors.append([path, f"{answer.status}"])
        return _bulk_result(deleted, not_found, errors,
                            "400 Bad Request" if errors else "200 OK")

    def _delete(self, environ, path: str):
        response = call(self.app, make_environ(environ, "DELETE", path))
        return response


def head_fromsysmeta_of(headers: list, sysmeta: dict, internal: bool = False):
    total = int(sysmeta.get(SYSMETA_SIZE, "0") or 0)
    etag = sysmeta.get(SYSMETA_ETAG, "")
    out = body_headers(without_sysmeta(headers), total, etag, None, total)
    if internal and SYSMETA_DEPTH in sysmeta:
        out.append((SYSMETA_DEPTH, sysmeta[SYSMETA_DEPTH]))
    return RawResponse(200, out)


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


def filter_factory(global_conf: dict, **local_conf):
    options = load_options(local_conf, global_conf.get("__section__", "filter:slo"), OPTIONS,
                           global_conf.get("__file__", "<config>"))
    return lambda app: StaticLargeObject(app, options["max_manifest_segments"],
                                         options["max_manifest_size"])
