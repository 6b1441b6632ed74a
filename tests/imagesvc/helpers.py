"""Small request helpers for the image API tests (webob Request.blank against the app)."""
from __future__ import annotations

import io
import json

from webob import Request

from tests.imagesvc.store_view import StoreView

PATCH_TYPE = "application/openstack-images-v2.1-json-patch"


class Client:
    """Calls the app in-process as one user (with a token the real proxy's auth accepts)."""

    def __init__(self, app, store: StoreView, user: str = "test:tester"):
        self.app = app
        self.token = store.token(user)

    def call(self, method: str, path: str, body=None, content_type=None, headers=None,
             chunked=False):
        req = Request.blank(path, method=method)
        req.headers["X-Auth-Token"] = self.token
        if body is not None:
            raw = body if isinstance(body, bytes) else json.dumps(body).encode()
            if chunked:
                req.environ["wsgi.input"] = io.BytesIO(raw)
                req.environ.pop("CONTENT_LENGTH", None)
                req.headers["Transfer-Encoding"] = "chunked"
            else:
                req.body = raw
            req.content_type = content_type or (
                "application/octet-stream" if isinstance(body, bytes) else "application/json"
            )
        for name, value in (headers or {}).items():
            req.headers[name] = value
        return req.get_response(self.app)

    def create(self, **fields):
        response = self.call("POST", "/v2/images", fields)
        assert response.status_int == 201, response.text
        return response.json

    def patch(self, image_id: str, ops):
        return self.call("PATCH", f"/v2/images/{image_id}", ops, content_type=PATCH_TYPE)

    def upload(self, image_id: str, data: bytes, **kwargs):
        return self.call("PUT", f"/v2/images/{image_id}/file", data, **kwargs)

    def show(self, image_id: str):
        return self.call("GET", f"/v2/images/{image_id}")
