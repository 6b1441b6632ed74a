"""Version discovery: `GET /` (300, the list of versions) and `GET /v3` (this version).

keystoneauth1 reads these to find the v3 API from whatever `auth_url` it was given.
"""
from __future__ import annotations

from identity.web import json_response

VERSION = "v3.14"
UPDATED = "2020-04-07T00:00:00Z"
MEDIA_TYPES = [{"base": "application/json",
                "type": "application/vnd.openstack.identity-v3+json"}]


def _v3(base: str) -> dict:
    return {"id": VERSION, "status": "stable", "updated": UPDATED,
            "links": [{"rel": "self", "href": f"{base}/v3/"}], "media-types": MEDIA_TYPES}


def root(service, req):
    return json_response({"versions": {"values": [_v3(service.base)]}}, 300)


def v3(service, req):
    return json_response({"version": _v3(service.base)})
