"""Temporary URLs of objects, made for the user by the dashboard (`POST /api/tempurl`).

A temporary URL lets anyone with it GET (or PUT) one object until it expires, with no
token (the object store's `tempurl` middleware checks it). It is signed with the account's
key, `X-Account-Meta-Temp-URL-Key`: the dashboard reads it with the user's token and, when
the account has none yet, sets a fresh random one (so the user never handles the key).
The signature is HMAC-SHA256 over `<METHOD>\\n<expires>\\n<path>`, the path being the
object's unquoted `/v1/<account>/<container>/<object>`.

`request_fields`, `make_url` and `new_key` are logic without IO; the app does the HEAD and
POST on the account.
"""
from __future__ import annotations

import hashlib
import hmac
import secrets
from urllib.parse import quote, unquote, urlsplit

from common.http_errors import HTTPError

KEY_HEADER = "X-Account-Meta-Temp-URL-Key"
METHODS = ("GET", "PUT")
MAX_SECONDS = 30 * 86400


def new_key() -> str:
    return secrets.token_urlsafe(32)


def request_fields(body: dict) -> tuple[str, str, str, int]:
    """(container, object, method, seconds) of a request body; HTTPError 400 when bad."""
    container, obj = body.get("container"), body.get("object")
    method, seconds = body.get("method", "GET"), body.get("seconds", 3600)
    if not isinstance(container, str) or not container or "/" in container \
            or len(container) > 256:
        raise HTTPError(400, "'container' must be a container name")
    if not isinstance(obj, str) or not obj or len(obj) > 1024:
        raise HTTPError(400, "'object' must be an object name")
    if method not in METHODS:
        raise HTTPError(400, f"'method' must be one of {', '.join(METHODS)}")
    if not isinstance(seconds, int) or isinstance(seconds, bool) \
            or not 1 <= seconds <= MAX_SECONDS:
        raise HTTPError(400, f"'seconds' must be a whole number from 1 to {MAX_SECONDS}")
    return container, obj, method, seconds


def make_url(endpoint: str, container: str, obj: str, key: str, method: str,
             expires: int) -> str:
    """The temporary URL of `container/obj` under the account `endpoint`."""
    parts = urlsplit(endpoint)
    path = f"{unquote(parts.path.rstrip('/'))}/{container}/{obj}"
    message = f"{method}\n{expires}\n{path}".encode()
    signature = hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
    return (f"{parts.scheme}://{parts.netloc}{quote(path)}"
            f"?temp_url_sig={signature}&temp_url_expires={expires}")
