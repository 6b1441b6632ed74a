"""How the DLO and SLO middleware read what a GET/HEAD names before expanding it.

The client's request goes down as it is. When the answer is a manifest of the kind the
middleware expands, ranges and conditions are meant for the large object, not for the
manifest: the manifest is read again without them. A 416 to a ranged GET may come from a
manifest shorter than the range, so a HEAD without the range looks first.
`?multipart-manifest=get` asks for the manifest itself (never expanded). The conditions
are then checked against the large object's ETag (`precondition_failure`, with the object
server's own rules from `storage.objects.conditional`).
"""
from __future__ import annotations

from urllib.parse import parse_qs

from proxy.responses import close_iter, empty
from proxy.subrequest import call, call_or_pass, same_resource
from storage.objects.conditional import parse_http_date, precondition_status

CONDITION_KEYS = ("HTTP_RANGE", "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH",
                  "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")
CONDITIONS_BY_KEY = (("HTTP_IF_MATCH", "If-Match"), ("HTTP_IF_NONE_MATCH", "If-None-Match"),
                     ("HTTP_IF_MODIFIED_SINCE", "If-Modified-Since"),
                     ("HTTP_IF_UNMODIFIED_SINCE", "If-Unmodified-Since"))


def manifest_mode(environ) -> str:
    """The `multipart-manifest` query value ('' without one)."""
    query = environ.get("QUERY_STRING", "")
    if "multipart-manifest" not in query:
        return ""
    return parse_qs(query).get("multipart-manifest", [""])[0]


def close_body(response) -> None:
    close_iter(response.app_iter)


def has_conditions(environ) -> bool:
    return any(environ.get(key) for key in CONDITION_KEYS)


def first_read(app, environ, is_manifest_headers):
    """The answer to the request as sent, or the manifest's HEAD after a ranged 416."""
    return _behind_a_ranged_416(app, environ, call(app, environ), is_manifest_headers)


def first_read_or_pass(app, environ, start_response, is_manifest_headers, passed_headers=None):
    """`first_read` for a middleware that expands manifests only: an answer that is neither
    a manifest nor a ranged 416 is passed straight on to `start_response` (headers through
    `passed_headers`) and `(None, body)` returned; anything else is `(response, None)`, the
    response as `first_read` gives it."""
    ranged = bool(environ.get("HTTP_RANGE"))

    def keep(status, headers):
        return (status == 416 and ranged) or is_manifest_headers(headers)

    response, body = call_or_pass(app, environ, start_response, keep, passed_headers)
    if response is None:
        return None, body
    return _behind_a_ranged_416(app, environ, response, is_manifest_headers), None


def _behind_a_ranged_416(app, environ, response, is_manifest_headers):
    """`response`, or the manifest's HEAD when `response` is a ranged 416 that a manifest
    shorter than the range may have caused (the range is meant for the large object)."""
    if response.status == 416 and environ.get("HTTP_RANGE"):
        probe = call(app, same_resource(environ, "HEAD", CONDITION_KEYS))
        if 200 <= probe.status < 300 and is_manifest_headers(probe.headers):
            close_body(response)
            return probe
        close_body(probe)
    return response


def whole_manifest(app, environ, response, need_body: bool = False):
    """`response` when it is the whole manifest already, else the manifest read again by a
    plain GET (no range, no conditions)."""
    if not need_body and not has_conditions(environ):
        return response
    close_body(response)
    return call(app, same_resource(environ, "GET", CONDITION_KEYS))


def precondition_failure(environ, etag: str, headers: list):
    """The 304/412 a GET/HEAD's conditions get against a large object (ETag `etag`, the
    manifest's `headers`), or None when the request may proceed."""
    conditions = {name: environ[key] for key, name in CONDITIONS_BY_KEY if key in environ}
    if not conditions:
        return None
    last_modified = 0
    for name, value in headers:
        if name.lower() == "last-modified":
            seconds = parse_http_date(value)
            last_modified = int(seconds) if seconds is not None else 0
    status = precondition_status(conditions, etag, last_modified, environ["REQUEST_METHOD"])
    if status is None:
        return None
    kept = [(k, v) for k, v in headers
            if k.lower() not in ("content-length", "etag", "content-range", "content-type")]
    kept.append(("Etag", f'"{etag}"'))
    return empty(status, kept)
