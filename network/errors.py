"""Neutron's error shape: `NeutronError` (an `HTTPError` with a Neutron type) and its renderer.

Handlers and the pure logic below them raise `NeutronError(status, type, message)`; the
renderer given to `common.http_errors.error_middleware` answers every `HTTPError` as
`{"NeutronError": {"type", "message", "detail"}}` (an HTTPError without a Neutron type gets
the generic one of its status). A 401 says where to authenticate
(`WWW-Authenticate: Keystone uri="..."`) when the identity URL is configured.
"""
from __future__ import annotations

import json

from webob import Response

from common.http_errors import HTTPError

GENERIC_TYPES = {400: "HTTPBadRequest", 401: "HTTPUnauthorized", 403: "HTTPForbidden",
                 404: "HTTPNotFound", 405: "HTTPMethodNotAllowed", 409: "HTTPConflict",
                 413: "HTTPRequestEntityTooLarge", 503: "HTTPServiceUnavailable"}


class NeutronError(HTTPError):
    """An HTTPError carrying Neutron's exception type name (`IpAddressGenerationFailure`)."""

    def __init__(self, status: int, kind: str, message: str, headers: dict | None = None):
        super().__init__(status, message, headers)
        self.kind = kind


def neutron_renderer(auth_uri: str = ""):
    """The `error_middleware` renderer of the network service."""

    def render(error: HTTPError) -> Response:
        kind = getattr(error, "kind", None) or GENERIC_TYPES.get(error.status, "NeutronError")
        body = {"NeutronError": {"type": kind, "message": error.first_line, "detail": ""}}
        response = Response(status=f"{error.status} {error.title}",
                            body=json.dumps(body).encode("utf-8"),
                            content_type="application/json", charset=None)
        for name, value in error.headers.items():
            response.headers[name] = value
        if error.status == 401 and auth_uri:
            response.headers["WWW-Authenticate"] = f'Keystone uri="{auth_uri}"'
        return response

    return render


def short(value) -> str:
    """A value quoted in a message: printable, at most 80 characters."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= 80 else text[:77] + "..."


def bad_request(message: str) -> NeutronError:
    return NeutronError(400, "HTTPBadRequest", message)


def invalid_input(message: str) -> NeutronError:
    return NeutronError(400, "InvalidInput", f"Invalid input for operation: {message}")


def invalid_attr(attr: str, reason: str) -> NeutronError:
    return NeutronError(400, "HTTPBadRequest", f"Invalid input for {attr}. Reason: {reason}")


def not_found(kind: str, ident) -> NeutronError:
    """`NetworkNotFound`: "Network <id> could not be found." (kind given as "Network")."""
    words = {"SecurityGroup": "Security group", "SecurityGroupRule": "Security group rule",
             "FloatingIP": "Floating IP"}
    return NeutronError(404, f"{kind}NotFound",
                        f"{words.get(kind, kind)} {short(ident)} could not be found.")


def forbidden(action: str) -> NeutronError:
    return NeutronError(403, "PolicyNotAuthorized", f"({action}) is disallowed by policy")


def conflict(kind: str, message: str) -> NeutronError:
    return NeutronError(409, kind, message)
