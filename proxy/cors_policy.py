"""CORS decisions for a container, from its metadata and the operator's settings (no IO).

A container opts in with `X-Container-Meta-Access-Control-Allow-Origin` (origins separated
by spaces, `*` for any), `-Max-Age` (seconds a browser may cache a preflight answer) and
`-Expose-Headers` (more response headers a page's script may read). The operator may allow
origins for every container (`cors_allow_origin`) and expose more headers
(`cors_expose_headers`). `preflight` answers a browser's OPTIONS; `actual_headers` adds the
`Access-Control-*` headers to the answer of any other request. In strict mode (the default)
an origin nobody allowed gets no CORS headers; otherwise the caller's origin is echoed for
any container that allows some origin.
"""
from __future__ import annotations

from dataclasses import dataclass

META = "x-container-meta-access-control-"
ALLOWED_METHODS = "HEAD, GET, PUT, POST, COPY, OPTIONS, DELETE"
# Readable by a page's script whatever the container says (CORS's simple response headers
# plus what Swift clients rely on).
ALWAYS_EXPOSED = ("cache-control", "content-language", "content-type", "expires",
                  "last-modified", "pragma", "etag", "x-timestamp", "x-trans-id",
                  "x-openstack-request-id")
EXPOSED_PREFIXES = ("x-object-meta-", "x-container-meta-")


@dataclass(frozen=True)
class CorsSettings:
    strict: bool = True
    allow_origins: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerCors:
    allow_origins: tuple[str, ...] = ()
    max_age: str = ""
    expose_headers: tuple[str, ...] = ()


def container_cors(headers: dict[str, str]) -> ContainerCors:
    """The container's CORS settings from its (lower-case) metadata headers."""
    return ContainerCors(
        tuple((headers.get(META + "allow-origin") or "").split()),
        (headers.get(META + "max-age") or "").strip(),
        tuple(name.strip().lower()
              for name in (headers.get(META + "expose-headers") or "").replace(",", " ").split()
              if name.strip()),
    )


def origin_allowed(origin: str, container: ContainerCors, settings: CorsSettings) -> bool:
    return ("*" in container.allow_origins or origin in container.allow_origins
            or origin in settings.allow_origins)


def allow_origin_value(origin: str, container: ContainerCors) -> str:
    return "*" if "*" in container.allow_origins else origin


def preflight(origin: str, method: str | None, requested_headers: str | None,
              container: ContainerCors | None, settings: CorsSettings):
    """-> (status, headers) for a preflight OPTIONS; 401 when it may not proceed."""
    if not method or container is None or not origin_allowed(origin, container, settings):
        return 401, []
    headers = [("Access-Control-Allow-Origin", allow_origin_value(origin, container)),
               ("Access-Control-Allow-Methods", ALLOWED_METHODS)]
    if requested_headers and requested_headers.strip():
        headers.append(("Access-Control-Allow-Headers", requested_headers.strip()))
    if container.max_age.isdigit():
        headers.append(("Access-Control-Max-Age", container.max_age))
    headers.append(("Allow", ALLOWED_METHODS))
    return 200, headers


def actual_headers(origin: str, response_headers: list[tuple[str, str]],
                   container: ContainerCors | None, settings: CorsSettings):
    """The CORS headers to add to the answer of a non-preflight request (maybe none)."""
    if container is None:
        return []
    if not origin_allowed(origin, container, settings):
        if settings.strict or not (container.allow_origins or settings.allow_origins):
            return []
        allow = origin
    else:
        allow = allow_origin_value(origin, container)
    present = {name.lower() for name, _value in response_headers}
    if "access-control-allow-origin" in present:
        return []
    exposed = list(ALWAYS_EXPOSED)
    exposed.extend(sorted(name for name in present if name.startswith(EXPOSED_PREFIXES)))
    exposed.extend(container.expose_headers)
    exposed.extend(settings.expose_headers)
    unique = list(dict.fromkeys(exposed))
    return [("Access-Control-Allow-Origin", allow),
            ("Access-Control-Expose-Headers", ", ".join(unique))]
