"""Request parsing and answers shared by the object, container and account servers.

* `split_storage_path(path, minimum, maximum)` splits `/<dev>/<part>/<account>[/<container>
  [/<object>]]` into text segments (the object keeps its slashes), raising `BadRequestPath`
  (a 400 `common.http_errors.HTTPError`) with a one-line reason for anything malformed;
* `validate_device` / `validate_partition` check those two segments; `is_partition` is the
  one rule for a partition number in a path, a header or a directory name (ASCII digits in
  canonical form: Python's int() would also take '١٢', ' 12' and '1_0');
* `request_timestamp(req, header)` parses `X-Timestamp` (400 when missing or invalid);
* `require_signed(auth, environ)` raises the 401 every server answers, before dispatch, to a
  request not signed with the cluster's backend secret (`common.backend_auth`).

Errors are `common.http_errors.HTTPError`s; each server runs under `error_middleware` with
`render_plain` (one line of text), and the runner's `common.last_resort` answers bugs.
"""
from __future__ import annotations

from common.constraints import check_utf8
from common.http_errors import HTTPError
from common.timestamp import InvalidTimestamp, Timestamp


class BadRequestPath(HTTPError):
    """The request path cannot name a storage entity: a 400 whose message says why."""

    def __init__(self, reason: str):
        super().__init__(400, reason)


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


def require_signed(auth, environ: dict) -> None:
    """HTTPError(401) for a request `auth` (a `common.backend_auth.BackendAuth`) refuses."""
    reason = auth.refusal(environ)
    if reason:
        raise HTTPError(401, f"unauthorized backend request: {reason}")
