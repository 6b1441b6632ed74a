"""`dlo`: dynamic large objects, a manifest with `X-Object-Manifest: <container>/<prefix>`.

    [filter:dlo]
    use = egg:brume#dlo

A GET/HEAD goes down as sent; when the answer says it is a DLO manifest, the middleware
lists `<container>` by `<prefix>` and serves the concatenation of the listed objects in name
order, all through sub-requests to the app below it, as the requesting user. ETag is the
quoted md5 of the segments' ETags joined, and conditions (`If-Match`, ...) are checked
against it; a single byte range is honoured (several: the whole object, as Swift). Segments are read
as stored (Swift's rule): a manifest among them, the DLO itself included, contributes its
own bytes and is never expanded, so a DLO cannot recurse. `?multipart-manifest=get` returns
the manifest itself. Writes pass through (the manifest is a plain object).
"""
from __future__ import annotations

import json
from urllib.parse import quote, unquote_to_bytes

from common.config import load_options
from proxy.get_resume import StreamCut
from proxy.middleware.manifest_read import (
    close_body,
    first_read_or_pass,
    manifest_mode,
    precondition_failure,
    whole_manifest,
)
from proxy.responses import RawResponse, error
from proxy.segments import (
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

LISTING_PAGE = 10000
MAX_PAGES = 10  # at most 100 000 segments held as (path, size, etag)
MAX_LISTING_BYTES = 16 * 1024 * 1024


def is_dlo(response) -> bool:
    return is_dlo_headers(response.headers)


def is_dlo_headers(headers: list) -> bool:
    """Whether an answer's header list marks a dynamic large object's manifest."""
    for name, _value in headers:
        if name[:1] in ("x", "X") and name.lower() == "x-object-manifest":
            return True
    return False


def _wsgi_text(value: str) -> str:
    """A header value as text: WSGI carries its (UTF-8) bytes as latin-1 characters."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


class DynamicLargeObject:
    def __init__(self, app):
        self.app = app
        self.capabilities = {"dlo": {"max_segments": 10000}}

    def __call__(self, environ, start_response):
        if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or (
                "multipart-manifest" in environ.get("QUERY_STRING", "")
                and manifest_mode(environ) == "get"):
            return self.app(environ, start_response)
        target = object_target(environ.get("PATH_INFO", ""))
        if target is None:
            return self.app(environ, start_response)
        response, passed_body = first_read_or_pass(self.app, environ, start_response,
                                                   is_dlo_headers)
        if response is None:  # not a manifest: already on its way to the client
            return passed_body
        return self.serve(environ, target, response)(environ, start_response)

    def serve(self, environ, target, response):
        """The answer for a GET/HEAD whose first read (`response`) may be a manifest."""
        if not is_dlo(response):
            return response
        refusal = enter_manifest(environ, target.path)
        if refusal is not None:
            close_body(response)
            return error(409, refusal)
        response = whole_manifest(self.app, environ, response)
        if not is_dlo(response):
            return response
        close_body(response)
        return self.expand(environ, target, response.headers)

    def list_segments(self, environ, account: str, container: str, prefix: str):
        """All objects under prefix, in order, or (None, status)."""
        segments: list[Segment] = []
        marker = ""
        for _ in range(MAX_PAGES):
            query = f"format=json&prefix={quote(prefix)}&limit={LISTING_PAGE}"
            if marker:
                query += f"&marker={quote(marker)}"
            response = call(self.app, make_environ(environ, "GET", f"/v1/{account}/{container}",
                                                   query=query))
            if response.status == 204:
                close_body(response)
                break
            if response.status != 200:
                close_body(response)
                return None, response.status
            try:
                entries = json.loads(read_body(response.app_iter, MAX_LISTING_BYTES))
            except (ValueError, StreamCut):
                return None, 503
            for entry in entries:
                if "name" not in entry:
                    continue
                segments.append(Segment(f"/{container}/{entry['name']}",
                                        int(entry.get("bytes", 0)),
                                        str(entry.get("hash", "")).strip('"')))
            if len(entries) < LISTING_PAGE:
                break
            marker = entries[-1]["name"]
        return segments, 200

    def expand(self, environ, target, manifest_headers: list):
        value = manifest_value(_header(manifest_headers, "x-object-manifest"))
        if value is None:
            return error(409, "X-Object-Manifest is not valid UTF-8")
        container, _, prefix = value.partition("/")
        segments, status = self.list_segments(environ, target.account, container, prefix)
        if segments is None:
            return error(status if status in (401, 403, 404) else 503,
                         f"cannot list segments of {container}")
        total = sum(s.size for s in segments)
        etag = large_object_etag(segments)
        failure = precondition_failure(environ, etag, manifest_headers)
        if failure is not None:
            return failure
        byte_range = parse_range(environ.get("HTTP_RANGE"), total)
        if byte_range == "unsatisfiable":
            return error(416, "requested range not satisfiable",
                         [("Content-Range", f"bytes */{total}")])
        if environ["REQUEST_METHOD"] == "HEAD":
            return RawResponse(200, body_headers(manifest_headers, total, etag, None, total))

        def get(path, headers, query):
            return call(self.app, make_environ(environ, "GET", path, headers, query))

        # Segments are read as stored: a manifest listed under the prefix (this one included)
        # is served as its own bytes, as the listing's size and ETag describe it.
        return stream_response(get, target.account, segments, manifest_headers, etag,
                               byte_range, total, as_stored=True)


def manifest_value(header: str) -> str | None:
    """The `<container>/<prefix>` an X-Object-Manifest header names (percent-decoded), or
    None. Header values come as WSGI strings (the bytes as latin-1): their UTF-8 is decoded."""
    try:
        return unquote_to_bytes(header.encode("latin-1")).decode("utf-8").lstrip("/")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None


def _header(headers: list, name: str) -> str:
    for key, value in headers:
        if key.lower() == name:
            return value
    return ""


def filter_factory(global_conf: dict, **local_conf):
    load_options(local_conf, global_conf.get("__section__", "filter:dlo"), [],
                 global_conf.get("__file__", "<config>"))
    return DynamicLargeObject
