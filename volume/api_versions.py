"""Version discovery: `GET /` (300, the versions) and `GET /v3` (this version); no token."""
from __future__ import annotations

from volume import web

MIN_VERSION = "3.0"
MAX_VERSION = "3.44"  # the attachment API's os-complete


def _version(base: str) -> dict:
    return {"id": "v3.0", "status": "CURRENT", "version": MAX_VERSION,
            "min_version": MIN_VERSION, "updated": "2024-01-01T00:00:00Z",
            "links": [{"rel": "self", "href": f"{base}/v3/"}],
            "media-types": [{"base": "application/json",
                             "type": "application/vnd.openstack.volume+json;version=3"}]}


def root(service, req):
    return web.json_response({"versions": [_version(service.config.public_url)]}, 300)


def v3(service, req):
    return web.json_response({"version": _version(service.config.public_url)})
