"""`GET /info`: the cluster's capabilities and limits as JSON, shaped like Swift's.

python-swiftclient reads it (`swift capabilities`, and `swift upload --segment-size` picks
SLO over DLO when "slo" is listed). Built once at start; anonymous access is allowed.
"""
from __future__ import annotations

import json

from common import constraints
from proxy.responses import RawResponse, error

VERSION = "2.38.0-brume"


def build_info(app) -> bytes:
    swift = {"version": VERSION, "strict_cors_mode": True, "policies": [
        {"name": "default", "default": True}]}
    swift.update(constraints.LIMITS)
    swift["max_object_name_length"] = constraints.MAX_OBJECT_NAME_LENGTH
    info = {
        "swift": swift,
        "slo": {
            "max_manifest_segments": app.max_manifest_segments,
            "max_manifest_size": app.max_manifest_size,
            "min_segment_size": 1,
            "yield_frequency": 10,
        },
        "dlo": {"max_segments": 10000},
        "tempauth": {"account_acls": False},
        "brume": {"token_prefix": "BRM_", "reseller_prefix": app.reseller_prefix},
    }
    return json.dumps(info, sort_keys=True).encode()


def handle_info(app, environ):
    method = environ.get("REQUEST_METHOD")
    if method not in ("GET", "HEAD"):
        return error(405, "use GET", [("Allow", "GET, HEAD")])
    body = app.info_body
    return RawResponse(200, [("Content-Type", "application/json; charset=utf-8"),
                             ("Content-Length", str(len(body)))], [body])
