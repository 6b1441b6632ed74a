"""Signing test requests to storage servers exactly as every backend caller does.

In-process tests build webob requests; `sign(req, auth)` adds the `X-Backend-Auth` header
computed by `common.backend_auth.BackendAuth` from the request's own environ (method, path as
the server decodes it, query string, signed headers). `blank(...)` is `Request.blank` plus that;
`signed_headers(...)` signs a request a test sends over a socket.
"""
from __future__ import annotations

from urllib.parse import unquote

from webob import Request

from common.backend_auth import AUTH_HEADER


def sign(req: Request, auth, now: float | None = None) -> Request:
    path = req.environ["PATH_INFO"].encode("latin-1").decode("utf-8", "surrogateescape")
    query = req.environ.get("QUERY_STRING", "")
    req.headers[AUTH_HEADER] = auth.sign(req.method, path, dict(req.headers), query, now)
    return req


def blank(auth, path: str, method: str = "GET", headers=None, **kwargs) -> Request:
    req = Request.blank(path, method=method, headers=headers or {}, **kwargs)
    return sign(req, auth)


def signed_headers(auth, method: str, target: str, headers=None) -> dict:
    """`headers` plus the signature for a request sent over the wire to `target` (path and
    query as written on the request line; percent-escapes in the path are decoded first, as
    the server does)."""
    path, _, query = target.partition("?")
    return auth.signed(method, unquote(path), headers, query)
