"""What every volume API handler shares: Cinder's fault shape, JSON in and out, field checks.

Handlers raise `common.http_errors.HTTPError`; `render_fault` (the renderer given to
`error_middleware`) answers it as Cinder does, `{"itemNotFound": {"message", "code"}}`.
Request bodies are parsed by `common.untrusted_json` (strict; at most 64 KiB), and every
field goes through a check here, so bad input is a 400 before the store is touched.
"""
from __future__ import annotations

import json
import time

from webob import Request, Response

from common.http_errors import HTTPError
from common.untrusted_json import UntrustedJSONError, parse_untrusted_json

MAX_BODY = 64 * 1024
MAX_NAME = 255
MAX_DESCRIPTION = 255
MAX_METADATA_ITEMS = 64

FAULT_NAMES = {400: "badRequest", 401: "unauthorized", 403: "forbidden", 404: "itemNotFound",
               405: "badMethod", 409: "conflictingRequest", 413: "overLimit",
               415: "badMediaType", 500: "computeFault", 501: "notImplemented",
               503: "serviceUnavailable"}


def render_fault(error: HTTPError) -> Response:
    name = FAULT_NAMES.get(error.status, "computeFault")
    body = {name: {"message": error.first_line, "code": error.status}}
    if error.status == 413:
        body[name]["retryAfter"] = "0"
    response = json_response(body, error.status)
    for key, value in error.headers.items():
        response.headers[key] = value
    return response


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000000", time.gmtime())


def json_response(doc, status: int = 200) -> Response:
    return Response(status=status, body=json.dumps(doc).encode("utf-8"),
                    content_type="application/json", charset=None)


def empty_response(status: int = 202) -> Response:
    response = Response(status=status)
    response.headers.pop("Content-Type", None)
    return response


def short(value) -> str:
    """A value quoted in a message: printable, at most 80 characters."""
    text = "".join(ch if ch.isprintable() else "?" for ch in str(value))
    return text if len(text) <= 80 else text[:77] + "..."


def bad_request(message: str) -> HTTPError:
    return HTTPError(400, message)


def json_document(req: Request) -> dict:
    """The request's JSON body as an object; 400 (or 413) otherwise."""
    if req.content_length is not None and req.content_length > MAX_BODY:
        raise HTTPError(413, f"Request body larger than {MAX_BODY} bytes")
    raw = req.body_file.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise HTTPError(413, f"Request body larger than {MAX_BODY} bytes")
    try:
        doc = parse_untrusted_json(raw)
    except UntrustedJSONError as exc:
        raise bad_request(f"Malformed request body: {exc}") from None
    if not isinstance(doc, dict):
        raise bad_request("Malformed request body: a JSON object is expected")
    return doc


def json_body(req: Request, root: str) -> dict:
    """The `root` object of the request's JSON body; 400 otherwise."""
    doc = json_document(req)
    if not isinstance(doc.get(root), dict):
        raise bad_request(f"Missing required element '{root}' in request body.")
    return doc[root]


def check_keys(doc: dict, allowed: set, what: str) -> None:
    unknown = sorted(str(key) for key in set(doc) - allowed)
    if unknown:
        raise bad_request(f"Invalid input for field/attribute {what}: additional properties "
                          f"are not allowed ({short(', '.join(unknown))})")


def text(doc: dict, key: str, max_len: int = MAX_NAME) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > max_len or "\x00" in value:
        raise bad_request(f"Invalid input for field/attribute {key}: '{short(value)}' is not "
                          f"a string of at most {max_len} characters")
    return value


def ident(doc: dict, key: str) -> str | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not 0 < len(value) <= 255 or "\x00" in value:
        raise bad_request(f"Invalid input for field/attribute {key}: '{short(value)}' is not "
                          "a valid id")
    return value


def size_gb(value, key: str = "size", maximum: int = 2**31 - 1) -> int:
    """A size in GiB: a positive integer (or its decimal string)."""
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= maximum:
        raise bad_request(f"Invalid input received: {key} must be an integer between 1 and "
                          f"{maximum}, not '{short(value)}'")
    return value


def boolean(doc: dict, key: str, default: bool = False) -> bool:
    value = doc.get(key, default)
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.lower() in ("true", "1", "yes")
    if not isinstance(value, bool):
        raise bad_request(f"Invalid input for field/attribute {key}: '{short(value)}' is not "
                          "a boolean")
    return value


def metadata(doc: dict, key: str = "metadata") -> dict | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, dict) or len(value) > MAX_METADATA_ITEMS or not all(
            isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 255 and len(v) <= 255
            for k, v in value.items()):
        raise bad_request(f"Invalid input for field/attribute {key}: a mapping of at most "
                          f"{MAX_METADATA_ITEMS} strings (keys 1-255, values 0-255 characters)")
    return dict(value)


def query_flag(req: Request, key: str) -> bool:
    return (req.GET.get(key) or "").lower() in ("1", "true", "yes", "on")
