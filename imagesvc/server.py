"""The image API's WSGI application: routing, auth, error handling, and `make_app`.

    [server]
    app = imagesvc.server:make_app

Every `/v2/...` request needs a valid `X-Auth-Token` (the proxy's signed tokens); `/`,
`/versions` and the schemas are public. Handlers raise `common.http_errors.HTTPError`,
answered as one line of text (`error_middleware` with `render_plain`); anything unexpected
is left to the runner's `common.last_resort` (a logged traceback and a short 500).
"""
from __future__ import annotations

import re

from webob import Request, Response

from common.http_errors import HTTPError, error_middleware, render_plain
from imagesvc import api_data, api_images, api_members
from imagesvc.config import load_image_config
from imagesvc.http_common import identity_from_token, json_response
from imagesvc.schema import SCHEMAS
from imagesvc.service import ImageService

_ID = r"(?P<image_id>[^/]+)"
ROUTES = [
    ("POST", r"/v2/images", api_images.create_image),
    ("GET", r"/v2/images", api_images.list_images),
    ("GET", rf"/v2/images/{_ID}", api_images.show_image),
    ("PATCH", rf"/v2/images/{_ID}", api_images.patch_image),
    ("DELETE", rf"/v2/images/{_ID}", api_images.delete_image),
    ("PUT", rf"/v2/images/{_ID}/file", api_data.upload),
    ("GET", rf"/v2/images/{_ID}/file", api_data.download),
    ("POST", rf"/v2/images/{_ID}/import", api_data.import_image),
    ("GET", r"/v2/info/import", api_data.import_info),
    ("PUT", rf"/v2/images/{_ID}/tags/(?P<tag>[^/]+)", api_images.add_tag),
    ("DELETE", rf"/v2/images/{_ID}/tags/(?P<tag>[^/]+)", api_images.delete_tag),
    ("POST", rf"/v2/images/{_ID}/actions/deactivate", api_images.deactivate),
    ("POST", rf"/v2/images/{_ID}/actions/reactivate", api_images.reactivate),
    ("GET", rf"/v2/images/{_ID}/members", api_members.list_members),
    ("POST", rf"/v2/images/{_ID}/members", api_members.add_member),
    ("GET", rf"/v2/images/{_ID}/members/(?P<member>[^/]+)", api_members.show_member),
    ("PUT", rf"/v2/images/{_ID}/members/(?P<member>[^/]+)", api_members.update_member),
    ("DELETE", rf"/v2/images/{_ID}/members/(?P<member>[^/]+)", api_members.delete_member),
]
COMPILED = [(method, re.compile(pattern + r"/?$"), handler) for method, pattern, handler in ROUTES]


def versions_document(host_url: str) -> dict:
    versions = []
    for version, status in (("v2.9", "CURRENT"), ("v2.7", "SUPPORTED"), ("v2.6", "SUPPORTED"),
                            ("v2.5", "SUPPORTED"), ("v2.4", "SUPPORTED"),
                            ("v2.3", "SUPPORTED"), ("v2.2", "SUPPORTED"),
                            ("v2.1", "SUPPORTED"), ("v2.0", "SUPPORTED")):
        versions.append({"id": version, "status": status,
                         "links": [{"rel": "self", "href": f"{host_url}/v2/"}]})
    return {"versions": versions}


class ImageAPI:
    def __init__(self, service: ImageService):
        self.service = service
        self._wsgi = error_middleware(self._serve, render_plain)

    def __call__(self, environ, start_response):
        return self._wsgi(environ, start_response)

    def _serve(self, environ, start_response):
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, req: Request) -> Response:
        try:
            path = req.path_info.rstrip("/") or "/"
        except UnicodeDecodeError:
            raise HTTPError(400, "the request path is not valid UTF-8") from None
        if path in ("/", "/versions") and req.method == "GET":
            return json_response(versions_document(req.host_url), 300 if path == "/" else 200)
        if path.startswith("/v2/schemas/") and req.method == "GET":
            found = SCHEMAS.get(path[len("/v2/schemas/"):])
            if found is None:
                raise HTTPError(404, f"no schema at {path}")
            return json_response(found)
        allowed = []
        for method, pattern, handler in COMPILED:
            match = pattern.match(path)
            if not match:
                continue
            if method != req.method:
                allowed.append(method)
                continue
            who = identity_from_token(req, self.service.tokens)
            return handler(self.service, req, who, **match.groupdict())
        if allowed:
            raise HTTPError(405, f"{req.method} is not allowed on {path}",
                            {"Allow": ", ".join(sorted(set(allowed)))})
        raise HTTPError(404, f"no such resource: {path}")


def make_app(conf_path: str) -> ImageAPI:
    """The WSGI app for `[image-api]` in `conf_path` (raises ConfigError when wrong)."""
    service = ImageService(load_image_config(conf_path))
    service.recover_interrupted_uploads()
    from common.green import eventlet

    service.tokens.start(eventlet.spawn_n, eventlet.sleep)
    return ImageAPI(service)
