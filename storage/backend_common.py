"""Request parsing and answers shared by the object, container and account servers.

* `split_storage_path(path, minimum, maximum)` splits `/<dev>/<part>/<account>[/<container>
  [/<object>]]` into text segments (the object keeps its slashes), raising `BadRequestPath`
  with a one-line reason for anything malformed;
* `validate_device` / `validate_partition` check those two segments; `is_partition` is the
  one rule for a partition number in a path, a header or a directory name (ASCII digits in
  canonical form: Python's int() would also take '١٢', ' 12' and '1_0');
* `request_timestamp(req, header)` parses `X-Timestamp` (400 when missing or invalid);
* `error_response(status, reason)` builds a short text/plain error;
* `unsigned_refusal(auth, environ)` is the 401 every server answers, before dispatch, to a
  request not signed with the cluster's backend secret (`common.backend_auth`);
* `guard(app_call)` turns any unexpected exception into a logged 500 with a short body, so no
  traceback ever reaches a client.
"""
from __future__ import annotations

import functools
import logging

from webob import Response

from common.constraints import check_utf8
from common.timestamp import InvalidTimestamp, Timestamp

log = logging.getLogger("brume.backend")


class BadRequestPath(ValueError):
    """The request path cannot name a storage entity; the message says why."""


class HTTPError(Exception):
    """Abort a handler with this status and one-line reason (caught by the dispatcher)."""

    def __init__(self, status: int, reason: str = "", headers: dict | None = None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.headers = headers or {}

    def response(self) -> Response:
        return error_response(self.status, self.reason, self.headers)


def request_path(environ: dict) -> str:
    """PATH_INFO (already unquoted by the server) as UTF-8 text; BadRequestPath otherwise."""
    raw = environ.get("PATH_INFO", "")
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        raise BadRequestPath("path is not valid UTF-8") from None


def split_storage_path(path: str, minimum: int, maximum: int) -> list[str | None]:
    """Split `/dev/part/a[/c[/o]]` into `maximum` segments (absent ones are None).

    Segment `maximum` takes the rest of the path (object names may contain '/'). Every
    present segment must be non-empty; the device and partition are validated too.
    """
    if not path.startswith("/"):
        raise BadRequestPath("path must start with '/'")
    segments = path[1:].split("/", maximum - 1)
    if len(segments) < minimum:
        raise BadRequestPath(f"path needs at least {minimum} segments: {path[:200]}")
    if any(not seg for seg in segments):
        raise BadRequestPath(f"empty segment in path: {path[:200]}")
    for seg in segments:
        reason = check_utf8(seg)
        if reason:
            raise BadRequestPath(reason)
    validate_device(segments[0])
    validate_partition(segments[1])
    return segments + [None] * (maximum - len(segments))


def validate_device(device: str) -> None:
    if device in (".", "..") or "/" in device or not device:
        raise BadRequestPath(f"invalid device name: {device[:64]!r}")


def is_ascii_digits(text: str) -> bool:
    """True for a non-empty run of 0-9 (str.isdigit alone also accepts e.g. '²')."""
    return text.isascii() and text.isdigit()


MAX_PARTITION_DIGITS = 10  # partitions are < 2**32


def is_partition(text: str) -> bool:
    """True for a partition number written canonically: 1-10 ASCII digits, no leading zero.

    Canonical form matters beyond parsing: '012' and '12' would be two directories on disk
    for one partition, and only the second is ever replicated.
    """
    return (is_ascii_digits(text) and len(text) <= MAX_PARTITION_DIGITS
            and (text == "0" or text[0] != "0"))


def validate_partition(partition: str) -> None:
    if not is_partition(partition):
        raise BadRequestPath(f"invalid partition: {partition[:64]!r}")


def request_timestamp(req, header: str = "X-Timestamp", required: bool = True):
    """The request's timestamp as a `Timestamp`; HTTPError(400) when missing or invalid."""
    value = req.headers.get(header)
    if value is None:
        if required:
            raise HTTPError(400, f"missing {header}")
        return None
    try:
        return Timestamp(value)
    except (InvalidTimestamp, OverflowError):
        raise HTTPError(400, f"invalid {header}: {value[:64]!r}") from None


def error_response(status: int, reason: str = "", headers: dict | None = None) -> Response:
    """A text/plain error whose body is the reason's first line (reasons may quote input)."""
    body = (reason.splitlines()[0] + "\n").encode("utf-8", "replace") if reason.strip() else b""
    resp = Response(status=status, body=body, content_type="text/plain", charset="utf-8")
    for key, value in (headers or {}).items():
        resp.headers[key] = value
    return resp


def unsigned_refusal(auth, environ: dict) -> Response | None:
    """A 401 for a request `auth` (a `common.backend_auth.BackendAuth`) refuses, else None."""
    reason = auth.refusal(environ)
    if not reason:
        return None
    return error_response(401, f"unauthorized backend request: {reason}")


def guard(handler):
    """Decorator for a WSGI-ish `handler(self, req) -> Response`: errors become responses."""

    @functools.wraps(handler)
    def wrapped(self, req):
        try:
            return handler(self, req)
        except HTTPError as exc:
            return exc.response()
        except BadRequestPath as exc:
            return error_response(400, str(exc))
        except Exception:
            log.exception("unexpected error in %s %r", req.method[:20],
                          req.environ.get("PATH_INFO", "")[:200])
            return error_response(500, "internal server error")

    return wrapped
