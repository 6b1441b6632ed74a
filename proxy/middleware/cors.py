"""`cors`: answers browsers' cross-origin requests for containers that allow them.

    [filter:cors]
    use = egg:brume#cors
    # strict_cors_mode = true
    # cors_allow_origin =
    # cors_expose_headers =

Only requests with an `Origin` header are looked at. An `OPTIONS` with one is a preflight,
answered here without a token: 200 with `Access-Control-Allow-Origin/-Methods/-Headers/
-Max-Age` when the container (or the operator) allows the origin and the request names
`Access-Control-Request-Method`, else 401. Any other request goes down the pipeline and its
answer, streamed as it is, gains `Access-Control-Allow-Origin` and `-Expose-Headers`.
The container's settings come from `proxy.metadata_lookup` on the request's own path and
Host, so the filter may sit above domain_remap; the rules are `proxy.cors_policy`'s.
/info lists `cors` and the mode as `swift.strict_cors_mode`.
"""
from __future__ import annotations

from common.config import Option, load_options, parse_bool, parse_list
from proxy import metadata_lookup, subrequest
from proxy.cors_policy import ContainerCors, CorsSettings, actual_headers, container_cors, preflight
from proxy.responses import close_iter, empty, error, status_line

OPTIONS = [
    Option("strict_cors_mode", parse_bool, True,
           "only origins a container or the operator allows get CORS headers"),
    Option("cors_allow_origin", parse_list, [],
           "comma-separated origins allowed on every container"),
    Option("cors_expose_headers", parse_list, [],
           "comma-separated response headers exposed on every container"),
]


class Cors:
    def __init__(self, app, settings: CorsSettings):
        self.app = app
        self.settings = settings
        self.capabilities = {"cors": {}, "swift": {"strict_cors_mode": settings.strict}}

    def __call__(self, environ, start_response):
        origin = environ.get("HTTP_ORIGIN")
        if not origin:
            return self.app(environ, start_response)
        original = dict(environ)  # the path and Host as sent: layers below may rewrite them
        if environ.get("REQUEST_METHOD") == "OPTIONS":
            return self._preflight(environ, origin)(environ, start_response)
        response = subrequest.call(self.app, environ)
        try:
            extra = actual_headers(origin, response.headers, self._container(original),
                                   self.settings)
        except BaseException:
            close_iter(response.app_iter)
            raise
        start_response(status_line(response.status), response.headers + extra)
        return response.app_iter

    def _container(self, environ) -> ContainerCors | None:
        found = metadata_lookup.lookup(self.app, environ)
        if not found.found or not any(name.startswith("x-container-")
                                      for name in found.headers):
            return None
        return container_cors(found.headers)

    def _preflight(self, environ, origin: str):
        status, headers = preflight(origin, environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD"),
                                    environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
                                    self._container(environ), self.settings)
        if status != 200:
            return error(status, "CORS preflight refused")
        return empty(200, headers)


def filter_factory(global_conf: dict, **local_conf):
    options = load_options(local_conf, global_conf.get("__section__", "filter:cors"), OPTIONS,
                           global_conf.get("__file__", "<config>"))
    settings = CorsSettings(
        options["strict_cors_mode"],
        tuple(options["cors_allow_origin"]),
        tuple(name.lower() for name in options["cors_expose_headers"]),
    )
    return lambda app: Cors(app, settings)
