"""Nova's JSON fault shape for an `HTTPError`: `{"badRequest": {"message": ..., "code": 400}}`.

`render_nova_fault` is the renderer the compute API and the compute agent give
`common.http_errors.error_middleware`; the key names the kind of fault, as Nova's do.
"""
from __future__ import annotations

from webob import Response

from common.http_errors import HTTPError
from compute.http_json import json_response

FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    415: "badMediaType",
    500: "computeFault",
    501: "notImplemented",
    503: "serviceUnavailable",
}


def render_nova_fault(error: HTTPError) -> Response:
    """The JSON fault of `error` (its whole message: JSON keeps it on one line)."""
    name = FAULT_NAMES.get(error.status, "computeFault")
    return json_response(error.status, {name: {"message": error.message, "code": error.status}},
                         error.headers)
