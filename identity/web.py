"""What every identity API handler shares: Keystone's error shape, JSON in and out, fields.

Handlers raise `common.http_errors.HTTPError`; `keystone_renderer` turns it into Keystone's
`{"error": {"code", "title", "message"}}` (a 401 also says where to authenticate, in
`WWW-Authenticate: Keystone uri="..."`). Request bodies are parsed by
`common.untrusted_json`, and every field a handler reads goes through the checks here, so
bad input is a 400 and never reaches the store.
"""
from __future__ import annotations

import json
from urllib.parse import parse_qsl

from webob import Request, Response

from common.http_errors import HTTPError
from common.untrusted_json import UntrustedJSONError, parse_untrusted_json

MAX_BODY = 64 * 1024
MAX_NAME = 255
MAX_TEXT = 1024


def keystone_renderer(public_url: str):
    """The `error_middleware` renderer of the identity service."""

    def render(error: HTTPError) -> Response:
        body = {"error": {"code": error.status, "title": error.title,
                          "message": error.first_line}}
        response = Response(status=f"{error.status} {error.title}",
                            body=json.dumps(body).encode("utf-8"),
                            content_type="application/json", charset=None)
        for name, value in error.headers.items():
            response.headers[name] = value
        if error.status == 401:
            response.headers["WWW-Authenticate"] = f'Keystone uri="{public_url}"'
        return response

    return render


def unauthorized(message: str = "The request you have made requires authentication.") \
        -> HTTPError:
    return HTTPError(401, message)


def not_found(kind: str, ident: str) -> HTTPError:
    return HTTPError(404, f"Could not find {kind}: {_short(ident)}.")


def _short(text: str) -> str:
    text = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return text if len(text) <= 80 else text[:77] + "..."


def json_response(doc, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(status=status, body=json.dumps(doc).encode("utf-8"),
                        content_type="application/json", charset=None)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def empty_response(status: int = 204, headers: dict | None = None) -> Response:
    response = Response(status=status)
    response.headers.pop("Content-Type", None)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def json_body(req: Request, root: str | None = None) -> dict:
    """The request's JSON object (or its `root` member, itself an object); 400 otherwise."""
    length = req.content_length
    if length is not None and length > MAX_BODY:
        raise HTTPError(413, f"request body larger than {MAX_BODY} bytes")
    raw = req.body_file.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise HTTPError(413, f"request body larger than {MAX_BODY} bytes")
    try:
        doc = parse_untrusted_json(raw)
    except UntrustedJSONError as exc:
        raise HTTPError(400, f"Malformed request body: {exc}") from None
    if not isinstance(doc, dict):
        raise HTTPError(400, "Malformed request body: expected a JSON object")
    if root is None:
        return doc
    inner = doc.get(root)
    if not isinstance(inner, dict):
        raise HTTPError(400, f"Invalid input: '{root}' is a required object")
    return inner


def query(req: Request) -> dict[str, str]:
    """The query string's parameters (the last value of a repeated one); 400 if undecodable."""
    raw = req.environ.get("QUERY_STRING", "")
    try:
        pairs = parse_qsl(raw.encode("latin-1").decode("utf-8"), keep_blank_values=True,
                          errors="strict")
    except (UnicodeError, ValueError):
        raise HTTPError(400, "the query string is not valid UTF-8") from None
    return dict(pairs)


def text(doc: dict, key: str, required: bool = False, default=None, max_len: int = MAX_NAME,
         where: str = "") -> str | None:
    """A string field: non-empty when required, at most `max_len` characters, no NUL."""
    if key not in doc or doc[key] is None:
        if required:
            raise HTTPError(400, f"Invalid input for field '{where}{key}': it is required")
        return default
    value = doc[key]
    if not isinstance(value, str):
        raise HTTPError(400, f"Invalid input for field '{where}{key}': expected a string")
    if required and not value.strip():
        raise HTTPError(400, f"Invalid input for field '{where}{key}': must not be empty")
    if len(value) > max_len or "\x00" in value:
        raise HTTPError(400, f"Invalid input for field '{where}{key}': too long or has NUL")
    return value


def boolean(doc: dict, key: str, default: bool | None = None) -> bool | None:
    if key not in doc:
        return default
    value = doc[key]
    if not isinstance(value, bool):
        raise HTTPError(400, f"Invalid input for field '{key}': expected true or false")
    return value


def obj(doc: dict, key: str, required: bool = False) -> dict | None:
    value = doc.get(key)
    if value is None:
        if required:
            raise HTTPError(400, f"Invalid input: '{key}' is a required object")
        return None
    if not isinstance(value, dict):
        raise HTTPError(400, f"Invalid input for field '{key}': expected an object")
    return value


def bool_filter(params: dict, key: str) -> int | None:
    """`?enabled=true|false` as 1/0 for a SQL filter; None when absent."""
    if key not in params:
        return None
    value = params[key].strip().lower()
    if value in ("", "true", "1", "yes", "on"):
        return 1
    if value in ("false", "0", "no", "off"):
        return 0
    raise HTTPError(400, f"Invalid value for query parameter '{key}'")


def collection_links(req: Request) -> dict:
    return {"self": req.path_url, "previous": None, "next": None}
