"""Version discovery: `GET /` and `GET /v2.1`."""
from __future__ import annotations

from compute.http_json import json_response

VERSION = {
    "id": "v2.1",
    "status": "CURRENT",
    "version": "2.1",
    "min_version": "2.1",
    "updated": "2013-07-23T11:33:21Z",
    "media-types": [{"base": "application/json",
                     "type": "application/vnd.openstack.compute+json;version=2.1"}],
}


def _version(base_url: str) -> dict:
    return {**VERSION, "links": [{"rel": "self", "href": f"{base_url}/v2.1/"}]}


def root(core, request):
    return json_response(200, {"versions": [_version(core.base_url(request))]})


def v21(core, request):
    return json_response(200, {"version": _version(core.base_url(request))})
