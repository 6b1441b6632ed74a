"""Sub-requests of the proxy's middleware: a new environ for the caller, and calling an app.

`make_environ` builds a request on behalf of the request being served: same user (its
identity and authorize callback travel along, so the app authorizes the sub-request as that
user), same chain of large-object manifests being expanded (`proxy.segments.enter_manifest`).
`call` runs a WSGI app and returns its answer as a `RawResponse` (status, headers, app_iter)
the middleware can look at before passing it on or streaming it; `call_or_pass` does so only
for the answers the middleware acts on and passes every other one straight on (the cheap
path of a plain object's GET through the large-object and symlink middleware).
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from proxy.environ_keys import (
    AUTHORIZE_KEY,
    IDENTITY_KEY,
    INTERNAL_KEY,
    MANIFEST_CHAIN_KEY,
    OWNER_KEY,
    TRANS_ID_KEY,
)
from proxy.responses import RawResponse

# The Referer travels too: a container's referrer ACL (`.r:`) grants segment reads.
CARRIED_KEYS = (IDENTITY_KEY, AUTHORIZE_KEY, TRANS_ID_KEY, "HTTP_REFERER")


def allow_as_owner(environ, method, target, container_info, account_info=None):
    """The authorize callback of a middleware's own trusted sub-requests (a usage HEAD, a
    version archive written on the user's behalf once the user's request was authorized):
    allowed, as the account's owner."""
    environ[OWNER_KEY] = True
    return None


class _EmptyInput:
    def read(self, size: int = -1) -> bytes:
        return b""


def version_query(environ) -> str:
    """`version-id=...` when the client's request names an object version, else "": a
    sub-request acting on the same object carries it (object versioning serves it)."""
    version = parse_qs(environ.get("QUERY_STRING", "")).get("version-id")
    return urlencode({"version-id": version[0]}) if version else ""


def make_environ(parent_environ, method: str, path: str, headers: dict | None = None,
                 query: str = "", body_input=None, content_length: int | None = None,
                 internal: bool = False) -> dict:
    """A WSGI environ for `method path?query` as the user of `parent_environ`."""
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path.encode("utf-8", "surrogateescape").decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": parent_environ.get("SERVER_NAME", "localhost"),
        "SERVER_PORT": parent_environ.get("SERVER_PORT", "80"),
        "HTTP_HOST": parent_environ.get("HTTP_HOST", "localhost"),
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.url_scheme": parent_environ.get("wsgi.url_scheme", "http"),
        "wsgi.input": body_input if body_input is not None else _EmptyInput(),
        "wsgi.errors": parent_environ.get("wsgi.errors"),
        INTERNAL_KEY: internal,
        MANIFEST_CHAIN_KEY: parent_environ.get(MANIFEST_CHAIN_KEY, ()),
    }
    for key in CARRIED_KEYS:
        if key in parent_environ:
            environ[key] = parent_environ[key]
    if content_length is not None:
        environ["CONTENT_LENGTH"] = str(content_length)
    for name, value in (headers or {}).items():
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            environ["HTTP_" + key] = value
    return environ


def call(app, environ) -> RawResponse:
    """Run `app` on `environ`; its status, headers and body iterable as a RawResponse."""
    captured = []

    def start_response(status, headers, exc_info=None):
        captured[:] = [status, headers]
        return _no_write

    app_iter = app(environ, start_response)
    if not captured:  # an app that starts the response lazily, on first iteration
        iterator = iter(app_iter)
        first = next(iterator, b"")
        app_iter = _Prepended(first, iterator, app_iter)
    status_text, headers = captured
    return RawResponse(int(status_text[:3]), list(headers), app_iter)


def call_or_pass(app, environ, start_response, keep, passed_headers=None):
    """Run `app`; hand its answer on untouched unless `keep(status, headers)` says otherwise.

    For a middleware that acts on some answers only (a manifest, a link): an answer it does
    not keep is started on `start_response` at once (its headers through `passed_headers`
    when given) and `(None, body)` is returned, the body for the caller to return as its
    own. A kept answer comes back as `(RawResponse, None)`, as `call` gives it.
    """
    captured = []

    def peek(status, headers, exc_info=None):
        if keep(int(status[:3]), headers):
            captured[:] = [status, headers]
            return _no_write
        captured[:] = [None]
        if passed_headers is not None:
            headers = passed_headers(headers)
        return start_response(status, headers, exc_info)

    app_iter = app(environ, peek)
    if not captured:  # an app that starts the response lazily, on first iteration
        iterator = iter(app_iter)
        first = next(iterator, b"")
        app_iter = _Prepended(first, iterator, app_iter)
    if captured[0] is None:
        return None, app_iter
    status_text, headers = captured
    return RawResponse(int(status_text[:3]), list(headers), app_iter), None


def _no_write(data: bytes) -> None:
    raise RuntimeError("sub-requests do not support write()")


class _Prepended:
    """An app_iter whose first chunk was read early; close() reaches the original."""

    def __init__(self, first: bytes, iterator, original):
        self._first = first
        self._iterator = iterator
        self._original = original

    def __iter__(self):
        if self._first:
            yield self._first
        yield from self._iterator

    def close(self) -> None:
        close = getattr(self._original, "close", None)
        if close is not None:
            close()


def same_resource(environ, method: str, drop: tuple[str, ...] = ()) -> dict:
    """A copy of `environ` for `method` on the same path, without the `drop` keys and body."""
    copied = {key: value for key, value in environ.items() if key not in drop}
    copied["REQUEST_METHOD"] = method
    copied["wsgi.input"] = _EmptyInput()
    copied.pop("CONTENT_LENGTH", None)
    return copied
