"""What every network API handler shares: JSON in and out, query parameters, field checks.

Request bodies are parsed by `common.untrusted_json` (strict; at most 64 KiB); a body's
attributes must all be known to the resource (`check_attrs`, "Unrecognized attribute(s)")
and every field goes through the checks here, so bad input is a 400 before the store.
"""
from __future__ import annotations

import json
import time
from urllib.parse import parse_qsl

from webob import Request, Response

from common.untrusted_json import UntrustedJSONError, parse_untrusted_json
from network.errors import NeutronError, bad_request, invalid_attr, short

MAX_BODY = 64 * 1024
MAX_NAME = 255
MAX_ID = 255


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def json_response(doc, status: int = 200) -> Response:
    return Response(status=status, body=json.dumps(doc).encode("utf-8"),
                    content_type="application/json", charset=None)


def empty_response(status: int = 204) -> Response:
    response = Response(status=status)
    response.headers.pop("Content-Type", None)
    return response


def json_body(req: Request, root: str) -> dict:
    """The `root` object of the request's JSON body; 400 otherwise."""
    length = req.content_length
    if length is not None and length > MAX_BODY:
        raise NeutronError(413, "HTTPRequestEntityTooLarge",
                           f"Request body larger than {MAX_BODY} bytes")
    raw = req.body_file.read(MAX_BODY + 1)
    if len(raw) > MAX_BODY:
        raise NeutronError(413, "HTTPRequestEntityTooLarge",
                           f"Request body larger than {MAX_BODY} bytes")
    try:
        doc = parse_untrusted_json(raw)
    except UntrustedJSONError as exc:
        raise bad_request(f"Malformed request body: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get(root), dict):
        raise bad_request(f"Resource body required: a JSON object '{root}'")
    if len(doc) != 1:
        raise bad_request(f"Malformed request body: only '{root}' is expected")
    return doc[root]


def params(req: Request) -> list[tuple[str, str]]:
    """The query string as (key, value) pairs, repeats kept; 400 if undecodable."""
    raw = req.environ.get("QUERY_STRING", "")
    try:
        return parse_qsl(raw.encode("latin-1").decode("utf-8"), keep_blank_values=True,
                         errors="strict")
    except (UnicodeError, ValueError):
        raise bad_request("The query string is not valid UTF-8") from None


def check_attrs(doc: dict, allowed: set, resource: str) -> None:
    unknown = sorted(set(doc) - allowed)
    if unknown:
        raise bad_request(f"Unrecognized attribute(s) '{short(', '.join(unknown))}'")


def read_only(doc: dict, names: set) -> None:
    """A PUT naming an attribute that cannot change is a 400."""
    for name in sorted(names & set(doc)):
        raise bad_request(f"Cannot update read-only attribute {name}")


def text(doc: dict, key: str, default: str = "", max_len: int = MAX_NAME) -> str:
    value = doc.get(key)
    if value is None:
        return default
    if not isinstance(value, str) or len(value) > max_len or "\x00" in value:
        raise invalid_attr(key, f"'{short(value)}' is not a valid string (at most {max_len} "
                                f"characters)")
    return value


def ident(doc: dict, key: str, required: bool = False) -> str | None:
    value = doc.get(key)
    if value is None:
        if required:
            raise bad_request(f"Failed to parse request. Required attribute '{key}' not "
                              f"specified")
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID or "\x00" in value:
        raise invalid_attr(key, f"'{short(value)}' is not a valid id")
    return value


def boolean(doc: dict, key: str, default: bool | None = None) -> bool | None:
    if key not in doc:
        return default
    value = doc[key]
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    if not isinstance(value, bool):
        raise invalid_attr(key, f"'{short(value)}' is not a valid boolean value")
    return value


def id_list(doc: dict, key: str, max_len: int = 64) -> list[str] | None:
    value = doc.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > max_len or not all(
            isinstance(item, str) and 0 < len(item) <= MAX_ID for item in value):
        raise invalid_attr(key, f"'{short(value)}' is not a list of ids")
    return list(dict.fromkeys(value))
