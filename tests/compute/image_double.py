"""A Glance-v2-shaped image registry for the compute tests, served by storage.wsgi_server.

The compute API only reads image records (`GET /v2/images/{id}`, `GET /v2/images?name=`);
this double serves fixed records from a JSON file so compute tests do not need the whole
storage cluster. Tests marked `cluster` use the real image service instead.

    [server]
    app = tests.compute.image_double:make_app
    [image-double]
    images_file = /path/images.json      # {"<id>": {record}, ...}
    token_secret = ...                    # tokens are verified like the real service does
"""
from __future__ import annotations

import json

from webob import Request, Response

from proxy.tokens import verify_token
from storage.config import Option, load_config_file


class ImageDouble:
    def __init__(self, images: dict, token_secret: str):
        self.images = images
        self.token_secret = token_secret

    def __call__(self, environ, start_response):
        request = Request(environ)
        response = Response(content_type="application/json", charset=None)
        if verify_token(request.headers.get("X-Auth-Token"), self.token_secret) is None:
            response.status = 401
            response.body = b'{"error": "unauthorized"}'
        elif request.path == "/v2/images":
            name = request.GET.get("name")
            found = [i for i in self.images.values() if name is None or i["name"] == name]
            response.body = json.dumps({"images": found}).encode()
        elif request.path.startswith("/v2/images/") and request.path[11:] in self.images:
            response.body = json.dumps(self.images[request.path[11:]]).encode()
        else:
            response.status = 404
            response.body = b'{"error": "not found"}'
        return response(environ, start_response)


def make_app(conf_path: str):
    conf = load_config_file(conf_path, "image-double",
                            [Option("images_file", str), Option("token_secret", str)])
    with open(conf["images_file"], encoding="utf-8") as handle:
        images = json.load(handle)
    return ImageDouble(images, conf["token_secret"])
