"""Minimal WSGI responses for the proxy's hot path, and header filtering between tiers.

`RawResponse` is a tiny WSGI callable (status, header list, body iterable) cheaper than a
webob Response; `error` builds a short one-line error (typed text/html, as Swift's).
`client_headers` keeps what a backend answered that the client may see (no hop-by-hop, no
X-Backend-*, no sysmeta; for non-owners, no ACLs and no temporary URL keys).
"""
from __future__ import annotations

from http import HTTPStatus

_REASONS = {status.value: status.phrase for status in HTTPStatus}
_REASONS[499] = "Client Disconnect"

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "server",
     "date", "proxy-connection"}
)


ERROR_CONTENT_TYPE = "text/html; charset=UTF-8"

_STATUS_LINES = {status: f"{status} {reason}" for status, reason in _REASONS.items()}


def status_line(status: int) -> str:
    line = _STATUS_LINES.get(status)
    return line if line is not None else f"{status} Unknown"


def close_iter(app_iter) -> None:
    """Close a WSGI body iterable if it can be (what a server must do when it stops reading)."""
    close = getattr(app_iter, "close", None)
    if close is not None:
        close()


class RawResponse:
    """status + [(name, value)] + iterable of bytes; an iterable with close() is closed."""

    __slots__ = ("status", "headers", "app_iter")

    def __init__(self, status: int, headers: list | None = None, app_iter=None):
        self.status = status
        self.headers = headers if headers is not None else []
        self.app_iter = app_iter if app_iter is not None else [b""]

    @property
    def status_int(self) -> int:
        return self.status

    def header(self, name: str, default=None):
        lowered = name.lower()
        for key, value in self.headers:
            if len(key) == len(lowered) and key.lower() == lowered:
                return value
        return default

    def __call__(self, environ, start_response):
        start_response(status_line(self.status), self.headers)
        if environ.get("REQUEST_METHOD") == "HEAD":
            close_iter(self.app_iter)
            return [b""]
        return self.app_iter


def error(status: int, reason: str = "", extra_headers: list | None = None) -> RawResponse:
    """A one-line error. Typed `text/html; charset=UTF-8` with no trailing newline, as
    Swift's own errors are (clients and Swift's functional suite compare both)."""
    text = reason or _REASONS.get(status, "Error")
    body = (text.splitlines()[0] if text else "").encode("utf-8", "replace")
    if status in (204, 304):
        body = b""
    headers = [("Content-Type", ERROR_CONTENT_TYPE), ("Content-Length", str(len(body)))]
    if extra_headers:
        headers.extend(extra_headers)
    return RawResponse(status, headers, [body])


def empty(status: int, headers: list | None = None) -> RawResponse:
    headers = list(headers or [])
    if status not in (204, 304):
        headers.append(("Content-Length", "0"))
    return RawResponse(status, headers, [b""])


# Shown to the account's owners only: ACLs, sync keys, temp URL keys (`drop_acls`).
OWNER_ONLY_HEADERS = frozenset({"x-container-read", "x-container-write",
                                "x-container-sync-key", "x-container-sync-to"})
OWNER_ONLY_PREFIXES = ("x-account-meta-temp-url-key", "x-container-meta-temp-url-key")
# Sysmeta an owner sees under its public name (the account ACL, `proxy.account_acl`).
OWNER_VISIBLE_SYSMETA = {"x-account-sysmeta-core-access-control": "X-Account-Access-Control"}


def client_headers(backend_headers: dict, drop_acls: bool = False) -> list[tuple[str, str]]:
    """Backend response headers the client may see, in Swift-ish capitalisation.

    `drop_acls`: the caller does not own the account, so the owner-only headers are left
    out; owners also see the account ACL."""
    result = []
    for name, value in backend_headers.items():
        shown = _SHOWN.get(name) or _shown_as(name)
        if shown is _HIDDEN:
            if not drop_acls and name in OWNER_VISIBLE_SYSMETA:
                result.append((OWNER_VISIBLE_SYSMETA[name], value))
            continue
        if drop_acls and shown[1]:
            continue
        result.append((shown[0], value))
    return result


_HIDDEN = ("", False)
# backend header name -> _HIDDEN, or (the name shown to clients, whether owners only see it)
_SHOWN: dict[str, tuple[str, bool]] = {}


def _shown_as(name: str) -> tuple[str, bool]:
    if name in HOP_BY_HOP or name.startswith(("x-backend-", "x-object-sysmeta-",
                                              "x-container-sysmeta-", "x-account-sysmeta-")):
        shown = _HIDDEN
    else:
        shown = (_title(name), name in OWNER_ONLY_HEADERS or name.startswith(OWNER_ONLY_PREFIXES))
    if len(_SHOWN) < 4096:
        _SHOWN[name] = shown
    return shown


def _title(name: str) -> str:
    """Swift-ish capitalisation of a lower-case header name (`etag` is `Etag`)."""
    return "-".join(part[:1].upper() + part[1:] for part in name.split("-"))
