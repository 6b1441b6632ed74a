"""Container (or account) metadata for middleware that must see it whoever is asking.

CORS preflights come without a token, and staticweb must read `X-Container-Meta-Web-*`
before it knows how to answer an anonymous visitor; neither may depend on the caller being
allowed to HEAD the container. A middleware calls `lookup(app, environ)`: an OPTIONS
sub-request on the same path and Host (so that a rewrite below it, such as domain_remap,
applies to it exactly as to the request) flagged with `brume.metadata_lookup`, which only
code can set. The proxy app answers it with `answer`, from its info cache and without
authorization: 200 and the container's backend headers (the account's, on an account
path), or the status found. The answer stays inside the proxy. A filter on the hot path
below every path rewrite (etag_quoter, the quota filters) reads the app's info cache
in-process instead (`DirectLookup`).
"""
from __future__ import annotations

from proxy import subrequest
from proxy.environ_keys import METADATA_LOOKUP_KEY
from proxy.responses import RawResponse, close_iter, error

DROPPED_KEYS = ("HTTP_X_AUTH_TOKEN", "HTTP_X_STORAGE_TOKEN", "CONTENT_TYPE",
                "HTTP_TRANSFER_ENCODING")


class Metadata:
    """What a lookup found: its status and the backend's headers (lower-case names)."""

    __slots__ = ("status", "headers")

    def __init__(self, status: int, headers: dict[str, str]):
        self.status = status
        self.headers = headers

    @property
    def found(self) -> bool:
        return 200 <= self.status < 300

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name, default)


def lookup(app, environ, path: str | None = None) -> Metadata:
    """The metadata of what `environ`'s path (or `path`, as text) addresses, asked of `app`
    (the pipeline below)."""
    probe = subrequest.same_resource(environ, "OPTIONS", DROPPED_KEYS)
    if path is not None:
        probe["PATH_INFO"] = path.encode("utf-8", "surrogateescape").decode("latin-1")
    probe["QUERY_STRING"] = ""
    probe[METADATA_LOOKUP_KEY] = True
    response = subrequest.call(app, probe)
    close_iter(response.app_iter)
    headers = {name.lower(): value for name, value in response.headers}
    return Metadata(response.status, headers)


class DirectLookup:
    """Lookups for a filter on the hot path that sits below every path rewrite (so its
    request's path is the one to look up): the proxy app's info cache read in-process, with
    no sub-request through the filters in between (none of which changes a lookup's
    answer); an OPTIONS `lookup` when the app at the bottom keeps no info cache."""

    def __init__(self, app):
        self.app = app
        bottom, seen = app, set()
        while getattr(bottom, "app", None) is not None and id(bottom) not in seen:
            seen.add(id(bottom))
            bottom = bottom.app  # each filter keeps the next as `.app`
        self.info_cache = getattr(bottom, "info_cache", None)

    def get(self, environ, account: str, container: str | None = None) -> Metadata:
        if self.info_cache is None:
            path = f"/v1/{account}" + (f"/{container}" if container is not None else "")
            return lookup(self.app, environ, path)
        info = self.info_cache.account(account) if container is None else \
            self.info_cache.container(account, container)
        return Metadata(info.status, info.headers)

    def value(self, environ, name: str, account: str, container: str | None = None):
        """One header (lower-case `name`) of the container's (or account's) metadata, or
        None when it is not set or the entity is not found: `get` without its wrapping, for
        the one header a filter reads on every object request."""
        if self.info_cache is None:
            found = self.get(environ, account, container)
            return found.get(name) if found.found else None
        info = self.info_cache.account(account) if container is None else \
            self.info_cache.container(account, container)
        return info.headers.get(name) if 200 <= info.status < 300 else None


def answer(info_cache, target) -> RawResponse:
    """The app's side: the container's (or account's) cached info as a header list."""
    if target.container is None:
        info = info_cache.account(target.account)
    else:
        info = info_cache.container(target.account, target.container)
    if not info.exists:
        return error(info.status if info.status >= 400 else 404)
    return RawResponse(200, list(info.headers.items()), [b""])
