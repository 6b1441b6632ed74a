"""How the DLO and SLO middleware read what a GET/HEAD names before expanding it.

The client's request goes down as it is. When the answer is a manifest of the kind the
middleware expands, ranges and conditions are meant for the large object, not for the
manifest: the manifest is read again without them. A 416 to a ranged GET may come from a
manifest shorter than the range, so a HEAD without the range looks first.
`?multipart-manifest=get` asks for the manifest itself (never expanded).
"""
from __future__ import annotations

from urllib.parse import parse_qs

from proxy.subrequest import call, same_resource

CONDITION_KEYS = ("HTTP_RANGE", "HTTP_IF_MATCH", "HTTP_IF_NONE_MATCH",
                  "HTTP_IF_MODIFIED_SINCE", "HTTP_IF_UNMODIFIED_SINCE")


def manifest_mode(environ) -> str:
    """The `multipart-manifest` query value ('' without one)."""
    query = environ.get("QUERY_STRING", "")
    if "multipart-manifest" not in query:
        return ""
    return parse_qs(query).get("multipart-manifest", [""])[0]


def close_body(response) -> None:
    close = getattr(response.app_iter, "close", None)
    if close is not None:
        close()


def has_conditions(environ) -> bool:
    return any(environ.get(key) for key in CONDITION_KEYS)


def first_read(app, environ, is_manifest):
    """The answer to the request as sent, or the manifest's HEAD after a ranged 416."""
    response = call(app, environ)
    if response.status == 416 and environ.get("HTTP_RANGE"):
        probe = call(app, same_resource(environ, "HEAD", CONDITION_KEYS))
        if 200 <= probe.status < 300 and is_manifest(probe):
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
