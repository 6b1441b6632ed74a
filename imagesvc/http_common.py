"""What every image API handler shares: JSON bodies and responses, identities.

Handlers raise `common.http_errors.HTTPError(status, message)`; the app's error middleware
turns it into a one-line text/plain response. JSON request bodies are read with a size cap,
never whole and unbounded.
"""
from __future__ import annotations

import json

from webob import Request, Response

from common.http_errors import HTTPError
from common.token_check import TokenChecker
from common.untrusted_json import UntrustedJSONError, parse_untrusted_json
from imagesvc.policy import Identity

MAX_JSON_BODY = 1024 * 1024

def json_response(doc, status: int = 200, headers: dict | None = None) -> Response:
    body = json.dumps(doc).encode()
    response = Response(status=status, body=body, content_type="application/json",
                        charset=None)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def read_json(req: Request):
    """The request's JSON document (any JSON value); 400 when it is not JSON, 413 when huge."""
    length = req.content_length
    if length is not None and length > MAX_JSON_BODY:
        raise HTTPError(413, f"request body larger than {MAX_JSON_BODY} bytes")
    try:
        raw = req.environ["wsgi.input"].read(MAX_JSON_BODY + 1 if length is None else length)
    except (OSError, ValueError) as exc:  # the server's chunked decoder raises ValueError
        raise HTTPError(400, f"the request body could not be read: {exc}") from None
    if len(raw) > MAX_JSON_BODY:
        raise HTTPError(413, f"request body larger than {MAX_JSON_BODY} bytes")
    try:
        return parse_untrusted_json(raw)
    except UntrustedJSONError as exc:
        raise HTTPError(400, f"the request body is not acceptable JSON: {exc}") from None


def query_params(req: Request) -> list[tuple[str, str]]:
    """The query string's (name, value) pairs; 400 when it is not valid UTF-8."""
    try:
        return list(req.GET.items())
    except UnicodeDecodeError:
        raise HTTPError(400, "the query string is not valid UTF-8") from None


def identity_from_token(req: Request, checker: TokenChecker) -> Identity:
    """Who is asking (a Keystone or Swift v1 token, checked locally); 401 when nobody, 403
    when a reader asks to change something."""
    requester = checker.requester(req.headers.get("X-Auth-Token"))
    if requester is None:
        raise HTTPError(401, "a valid project-scoped X-Auth-Token is required",
                        {"WWW-Authenticate": "Token"})
    who = Identity(project=requester.project_id, user=requester.user_id,
                   roles=requester.roles)
    if req.method not in ("GET", "HEAD") and not who.can_write:
        raise HTTPError(403, "your role in this project is read-only")
    return who
