"""The rules of `/api/<service>/<path>`: which public API it reaches, and what passes.

A request under `/api/` names a service by its short name (`SERVICES`: compute, image,
object-store, network, volume); the target is that service's endpoint in the session
token's catalog (the configured interface) plus the rest of the path and the query string.
Dot segments and empty paths are refused (400), so a request never climbs out of the
endpoint's base (an object store account, a volume project). Only the headers in
`REQUEST_HEADERS` go out (the session's token is added by the caller; the browser's cookie
never leaves); only those in `RESPONSE_HEADERS` come back (no `X-Subject-Token`, no
`Set-Cookie` from a service). An object read from the object store is always sent as an
attachment, never rendered by the browser. No IO.
"""
from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

from common.http_errors import HTTPError

# Short name in /api/ → catalog types, first found wins.
SERVICES = {
    "compute": ("compute",),
    "image": ("image",),
    "object-store": ("object-store",),
    "network": ("network",),
    "volume": ("block-storage", "volumev3"),
}
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"})
REQUEST_HEADERS = frozenset({
    "content-type", "content-length", "accept", "range", "openstack-api-version",
    "x-openstack-nova-api-version", "x-container-read", "x-container-write",
    "x-delete-after", "x-object-manifest", "if-match", "if-none-match",
})
RESPONSE_HEADERS = frozenset({
    "content-type", "content-length", "content-range", "etag", "last-modified",
    "accept-ranges", "x-timestamp", "x-trans-id", "x-openstack-request-id",
    "x-container-object-count", "x-container-bytes-used", "x-account-object-count",
    "x-account-bytes-used", "x-account-container-count", "x-object-meta-mtime",
    "openstack-api-version", "x-container-read", "x-container-write",
})


def endpoint(catalog: list, service: str, interface: str = "public") -> str:
    """The base URL of `service` in a token's catalog; HTTPError 404 when it has none."""
    types = SERVICES.get(service)
    if types is None:
        raise HTTPError(404, f"no such service: {service[:40]}")
    for wanted in types:
        for entry in catalog:
            if not isinstance(entry, dict) or entry.get("type") != wanted:
                continue
            for point in entry.get("endpoints") or ():
                if isinstance(point, dict) and point.get("interface") == interface \
                        and isinstance(point.get("url"), str):
                    return point["url"].rstrip("/")
    raise HTTPError(404, f"the catalog has no {service} endpoint")


def target(catalog: list, service: str, rest: str, query: str,
           interface: str = "public") -> str:
    """The URL a request for `/api/<service><rest>?<query>` goes to (HTTPError 400/404)."""
    segments = rest.split("/")
    if any(unquote(s) in (".", "..") for s in segments):
        raise HTTPError(400, "dot segments are not allowed in an API path")
    if any(ord(c) < 0x20 or c == "\x7f" for c in rest + query):
        raise HTTPError(400, "control characters are not allowed in an API path")
    url = endpoint(catalog, service, interface) + quote(rest, safe="/%:@!$&'()*+,;=-._~")
    return f"{url}?{query}" if query else url


def root_target(catalog: list, service: str, path: str, interface: str = "public") -> str:
    """`path` at the root (scheme, host and port) of `service`'s endpoint: for a fixed path
    the dashboard itself chose, such as the object store proxy's `/recon/cluster`."""
    parts = urlsplit(endpoint(catalog, service, interface))
    return f"{parts.scheme}://{parts.netloc}{path}"


def outgoing_headers(environ_headers, token: str) -> dict[str, str]:
    """The headers sent to the service: the allowed ones of the browser's, and the token."""
    headers = {name: value for name, value in environ_headers.items()
               if name.lower() in REQUEST_HEADERS}
    headers["X-Auth-Token"] = token
    return headers


def returned_headers(service: str, method: str, rest: str, headers) -> list[tuple[str, str]]:
    """The service's answer headers the browser may see."""
    kept = [(name, value) for name, value in headers.items()
            if name.lower() in RESPONSE_HEADERS or name.lower().startswith("x-object-meta-")]
    if service == "object-store" and method == "GET" and rest.strip("/").count("/") >= 1:
        name = rest.rstrip("/").rsplit("/", 1)[-1]
        kept.append(("Content-Disposition",
                     f"attachment; filename*=UTF-8''{quote(unquote(name), safe='')}"))
    return kept
