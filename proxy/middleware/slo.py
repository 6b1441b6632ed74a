"""`slo`: static large objects, `?multipart-manifest=put|get|delete` and their GETs.

    [filter:slo]
    use = egg:brume#slo
    max_manifest_segments = 1000
    max_manifest_size = 8388608

PUT takes a JSON list of segment objects (`{"path", "etag", "size_bytes", "range"}`) and
inline bytes (`{"data": base64}`), checked and stored by `slo_put` in the format of
`slo_manifest`, with sysmeta holding the large object's ETag, size and nesting depth, so a
HEAD needs no manifest read. A GET/HEAD goes down as sent (asking for the object's sysmeta);
when the answer is an SLO manifest, the middleware serves the large object: its conditions
(`If-Match`, ...) are checked against the large object's ETag, one or several byte ranges or
a `?part-number=N` (`slo_parts`) are honoured, and the segments are streamed through
sub-requests, a nested SLO being expanded by this same middleware (within the depth limit
and cycle check of `proxy.segments`), so it sees the app below it, the DLO middleware
included. `?multipart-manifest=get` returns the stored JSON (`&format=raw`: in the PUT
format, which can be PUT again); `?multipart-manifest=delete` deletes every segment, then the
manifest. Sysmeta never goes up past this middleware.
"""
from __future__ import annotations

import hashlib
import json

from common.backend_http import BackendError
from common.config import Option, load_options, positive_int
from common.green import eventlet
from proxy.environ_keys import INTERNAL_KEY, SYSMETA_KEY
from proxy.get_resume import StreamCut
from proxy.middleware.manifest_read import (
    close_body,
    first_read,
    first_read_or_pass,
    manifest_mode,
    precondition_failure,
    whole_manifest,
)
from proxy.middleware.slo_manifest import (
    SYSMETA_DEPTH,
    SYSMETA_ETAG,
    SYSMETA_SIZE,
    is_slo,
    is_slo_headers,
    load_entries,
    load_manifest,
    raw_entries,
    sysmeta_of,
    without_sysmeta,
)
from proxy.middleware.slo_parts import (
    INVALID,
    INVALID_REASON,
    UNSATISFIABLE_REASON,
    part_range,
    requested_part,
)
from proxy.middleware.slo_put import ManifestPut
from proxy.responses import RawResponse, error
from proxy.segments import (
    body_headers,
    enter_manifest,
    large_object_etag,
    multipart_response,
    read_body,
    stream_response,
)
from proxy.subrequest import call, make_environ, same_resource, version_query
from proxy.target import object_target
from proxy.transaction import carry
from storage.objects.byteranges import UnsatisfiableRange, parse_range

HEAD_CONCURRENCY = 10
OPTIONS = [
    Option("max_manifest_segments", positive_int, 1000, "segments allowed in an SLO"),
    Option("max_manifest_size", positive_int, 8 * 1024 * 1024, "bytes allowed in an SLO PUT"),
]


class StaticLargeObject:
    def __init__(self, app, max_manifest_segments: int = 1000,
                 max_manifest_size: int = 8 * 1024 * 1024):
        self.app = app
        self.max_manifest_segments = max_manifest_segments
        self.max_manifest_size = max_manifest_size
        # A stored manifest says more per segment than the client's PUT did.
        self.max_stored_size = 4 * max_manifest_size
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
        mode = manifest_mode(environ) if "multipart-manifest" in environ.get(
            "QUERY_STRING", "") else ""
        if method in ("GET", "HEAD") and mode != "get":
            environ[SYSMETA_KEY] = True
            first, passed_body = first_read_or_pass(self.app, environ, start_response,
                                                    is_slo_headers, without_sysmeta)
            if first is None:  # not a manifest: already on its way to the client
                return passed_body
            response = self.serve(environ, target, first)
        elif method in ("GET", "HEAD"):
            response = self.serve(environ, target)
        elif method == "PUT" and mode == "put" and "HTTP_X_COPY_FROM" not in environ:
            response = ManifestPut(self, environ, target).respond()
        elif method == "DELETE" and mode == "delete":
            response = self.delete_manifest(environ, target)
        else:
            return self.app(environ, start_response)
        return response(environ, start_response)

    # -- reads --------------------------------------------------------------------------

    def serve(self, environ, target, first=None):
        """A GET/HEAD of an object: an SLO expanded, anything else as the app answered
        (`first`: the app's answer when already read, with sysmeta)."""
        if manifest_mode(environ) == "get":
            return self.serve_manifest(environ)
        part = requested_part(environ.get("QUERY_STRING", ""))
        environ[SYSMETA_KEY] = True
        response = first if first is not None else first_read(self.app, environ, is_slo_headers)
        if not is_slo(response):
            response.headers = without_sysmeta(response.headers)
            return response
        if part == INVALID:
            close_body(response)
            return exact_error(environ, 400, INVALID_REASON)
        internal = bool(environ.get(INTERNAL_KEY))
        sysmeta = sysmeta_of(response.headers)
        if environ["REQUEST_METHOD"] == "HEAD" and SYSMETA_SIZE in sysmeta and part is None:
            close_body(response)
            return head_from_sysmeta(environ, response.headers, sysmeta, internal)
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
        return self.expand(environ, target, response, part)

    def serve_manifest(self, environ):
        """`?multipart-manifest=get`: the stored manifest (`&format=raw`: the PUT format)."""
        raw = "format=raw" in environ.get("QUERY_STRING", "")
        if raw and environ["REQUEST_METHOD"] == "HEAD":
            response = call(self.app, same_resource(environ, "GET"))
        else:
            response = call(self.app, environ)
        if not is_slo(response):
            response.headers = without_sysmeta(response.headers)
            return response
        headers = without_sysmeta(response.headers)
        if not raw:
            headers = [(k, v) for k, v in headers if k.lower() != "content-type"]
            headers.append(("Content-Type", "application/json; charset=utf-8"))
            response.headers = headers
            return response
        if response.status != 200:
            return response
        try:
            entries = load_entries(read_body(response.app_iter, self.max_stored_size))
        except (ValueError, StreamCut, BackendError):
            entries = None
        if entries is None:
            return error(503, "large object manifest unreadable")
        body = json.dumps(raw_entries(entries)).encode()
        headers = [(k, v) for k, v in headers if k.lower() not in ("etag", "content-length")]
        headers.append(("Etag", hashlib.md5(body, usedforsecurity=False).hexdigest()))
        headers.append(("Content-Length", str(len(body))))
        return RawResponse(200, headers, [body])

    def expand(self, environ, target, response, part):
        sysmeta = sysmeta_of(response.headers)
        manifest_etag = (response.header("Etag") or "").strip('"')
        try:
            segments = load_manifest(read_body(response.app_iter, self.max_stored_size))
        except (ValueError, StreamCut, BackendError):
            segments = None
        if segments is None:
            return error(503, "large object manifest unreadable")
        total = sum(s.size for s in segments)
        etag = sysmeta.get(SYSMETA_ETAG) or large_object_etag(segments)
        base = without_sysmeta(response.headers) + [("X-Manifest-Etag", manifest_etag)]
        failure = precondition_failure(environ, etag, base)
        if failure is not None:
            return failure
        method = environ["REQUEST_METHOD"]
        if part is not None:
            return self.serve_part(environ, target, segments, base, etag, part, total)
        if method == "HEAD":
            return RawResponse(200, body_headers(base, total, etag, None, total))
        try:
            ranges = parse_range(environ.get("HTTP_RANGE"), total)
        except UnsatisfiableRange:
            return error(416, "requested range not satisfiable",
                         [("Content-Range", f"bytes */{total}")])
        get = self.segment_getter(environ)
        if ranges is not None and len(ranges) > 1:
            return multipart_response(get, target.account, segments, base, etag, ranges,
                                      total, response.header("Content-Type")
                                      or "application/octet-stream")
        byte_range = None if ranges is None else (ranges[0][0], ranges[0][1] - 1)
        return stream_response(get, target.account, segments, base, etag, byte_range, total)

    def serve_part(self, environ, target, segments, base, etag, part, total):
        parts = [("X-Parts-Count", str(len(segments)))]
        byte_range = part_range(segments, part)
        if byte_range is None:
            headers = [(k, v) for k, v in base
                       if k.lower() not in ("content-length", "etag", "content-type",
                                            "accept-ranges", "content-range")]
            headers += parts + [("Etag", f'"{etag}"'), ("Content-Range", f"bytes */{total}")]
            return exact_error(environ, 416, UNSATISFIABLE_REASON, headers)
        if environ["REQUEST_METHOD"] == "HEAD":
            return RawResponse(206, body_headers(base, total, etag, byte_range, total) + parts)
        answer = stream_response(self.segment_getter(environ), target.account, segments, base,
                                 etag, byte_range, total)
        if answer.status == 206:
            answer.headers.extend(parts)
        return answer

    def segment_getter(self, environ):
        def get(path, headers, query):
            sub = make_environ(environ, "GET", path, headers, query)
            return self.serve(sub, object_target(sub["PATH_INFO"]))

        return get

    # -- manifest DELETE ----------------------------------------------------------------------

    def delete_manifest(self, environ, target):
        path = f"/v1/{target.account}/{target.container}/{target.obj}"
        version = version_query(environ)  # a version's manifest: read and delete that one
        response = call(self.app, make_environ(
            environ, "GET", path, query="&".join(filter(None, ["multipart-manifest=get",
                                                                version]))))
        if response.status == 404:
            close_body(response)
            return error(404, "not found")
        if response.status != 200:
            close_body(response)
            return error(response.status if response.status in (401, 403) else 503)
        if not is_slo(response):
            close_body(response)
            return self._delete(environ, path, version)
        try:
            segments = load_manifest(read_body(response.app_iter, self.max_stored_size))
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
        answer = self._delete(environ, path, version)
        if answer.status == 404:
            not_found += 1
        elif 200 <= answer.status < 300:
            deleted += 1
        else:
            errors.append([path, f"{answer.status}"])
        return _bulk_result(deleted, not_found, errors,
                            "400 Bad Request" if errors else "200 OK")

    def _delete(self, environ, path: str, query: str = ""):
        return call(self.app, make_environ(environ, "DELETE", path, query=query))


def exact_error(environ, status: int, text: str, headers: list | None = None):
    """An error whose body is exactly `text` (Swift's part-number answers, no newline); a
    HEAD's has none, and says so in its Content-Length."""
    body = b"" if environ["REQUEST_METHOD"] == "HEAD" else text.encode()
    return RawResponse(status, (headers or []) + [("Content-Type", "text/plain; charset=UTF-8"),
                                                   ("Content-Length", str(len(body)))], [body])


def head_from_sysmeta(environ, headers: list, sysmeta: dict, internal: bool = False):
    """A HEAD of an SLO answered from the manifest's sysmeta (no manifest read)."""
    total = int(sysmeta.get(SYSMETA_SIZE, "0") or 0)
    etag = sysmeta.get(SYSMETA_ETAG, "")
    manifest_etag = ""
    for name, value in headers:
        if name.lower() == "etag":
            manifest_etag = value.strip('"')
    base = without_sysmeta(headers) + [("X-Manifest-Etag", manifest_etag)]
    failure = precondition_failure(environ, etag, base)
    if failure is not None:
        return failure
    out = body_headers(base, total, etag, None, total)
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
