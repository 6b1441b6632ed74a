"""A small method + regex router for the JSON services (identity, network).

`Router(routes)` compiles `(method, pattern, handler)` triples (a trailing slash is
accepted) and `match(method, path)` returns the handler and its named groups, or raises
`common.http_errors.HTTPError`: 404 for an unknown path, 405 with `Allow` for a known path
and another method. `request_path(req)` is the request's path as text, 400 when it is not
UTF-8 or holds a NUL, so no handler ever sees an undecodable path.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable

from webob import Request

from common.http_errors import HTTPError


class Router:
    """The routes of one service, matched in order."""

    def __init__(self, routes: Iterable[tuple[str, str, Callable]]):
        self._routes = [(method, re.compile(pattern + r"/?$"), handler)
                        for method, pattern, handler in routes]

    def match(self, method: str, path: str) -> tuple[Callable, dict]:
        allowed = set()
        for route_method, pattern, handler in self._routes:
            found = pattern.match(path)
            if not found:
                continue
            if route_method != method:
                allowed.add(route_method)
                continue
            return handler, found.groupdict()
        if allowed:
            raise HTTPError(405, f"{method[:20]} is not allowed on this resource",
                            {"Allow": ", ".join(sorted(allowed))})
        raise HTTPError(404, "The resource could not be found.")


def request_path(req: Request) -> str:
    """The request's path as text ("/" when empty); HTTPError 400 for non-UTF-8 or a NUL."""
    try:
        path = req.path_info or "/"
    except UnicodeDecodeError:
        raise HTTPError(400, "the request path is not valid UTF-8") from None
    if "\x00" in path:
        raise HTTPError(400, "the request path has a NUL character")
    return path
