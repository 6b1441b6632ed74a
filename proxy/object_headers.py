"""Validating a client's object write headers and building the backend's.

Pure functions: `check_write` enforces the size and metadata constraints and converts
`X-Delete-After` into `X-Delete-At`; `backend_write_headers` picks what the object servers
store (content type guessed from the name when absent, user metadata, manifest headers);
`container_slot_headers` names the container replica each object replica must update.
"""
from __future__ import annotations

import mimetypes
import time

from common import constraints
from common.decimal_text import capped_decimal
from common.timestamp import MAX_SECONDS

PASSED_ON_WRITE = frozenset(
    {"content-type", "content-encoding", "content-disposition", "x-delete-at",
     "x-object-manifest", "etag", "if-none-match"}
)
# Sysmeta a middleware's PUT sets so that the container row describes the object its own way
# (an SLO manifest: the large object's size and `<md5>; slo_etag=<etag>`; a symlink: its
# target's `hash`); the object server sends them in its container update.
OVERRIDE_SIZE = "x-object-sysmeta-container-update-override-size"
OVERRIDE_ETAG = "x-object-sysmeta-container-update-override-etag"
INTERNAL_ONLY = ("x-static-large-object", "x-object-sysmeta-", "x-object-transient-sysmeta-")
# What a client may not send at all; the other INTERNAL_ONLY headers are dropped silently
# (as Swift's gatekeeper does: a client's sysmeta never reaches a server).
REFUSED_FROM_CLIENTS = ("x-static-large-object",)
READ_CONDITIONS = ("range", "if-match", "if-none-match", "if-modified-since",
                   "if-unmodified-since")


class BadHeaders(Exception):
    """A write the proxy refuses; `status` and a one-line `reason`."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


def lower_headers(environ) -> dict:
    """Request headers as {lower-name: value} (Content-Type/Length included)."""
    found = {}
    for key, value in environ.items():
        if key[:5] == "HTTP_":
            found[key[5:].replace("_", "-").lower()] = value
    if environ.get("CONTENT_TYPE"):
        found["content-type"] = environ["CONTENT_TYPE"]
    if environ.get("CONTENT_LENGTH"):
        found["content-length"] = environ["CONTENT_LENGTH"]
    return found


def has_object_sysmeta(headers: list) -> bool:
    """Whether a response's header list carries any object sysmeta (`X-Object-Sysmeta-*`)."""
    for name, _value in headers:
        if name[:1] in ("x", "X") and name[:17].lower() == "x-object-sysmeta-":
            return True
    return False


def content_length_of(headers: dict) -> int | None:
    """Declared body length; None for chunked. Raises BadHeaders (400/411/413)."""
    value = headers.get("content-length")
    chunked = "chunked" in headers.get("transfer-encoding", "").lower()
    if value is None or value == "":
        if chunked:
            return None
        raise BadHeaders(411, "Content-Length or chunked Transfer-Encoding required")
    if not value.isdigit():
        raise BadHeaders(400, "invalid Content-Length")
    length = int(value)
    if length > constraints.MAX_FILE_SIZE:
        raise BadHeaders(413, f"object larger than {constraints.MAX_FILE_SIZE} bytes")
    return length


def check_delete_at(headers: dict, now: float | None = None) -> str | None:
    """Validate X-Delete-At / X-Delete-After; returns the X-Delete-At value to store.

    The reasons are Swift's, word for word; a time past the last ten-digit second is
    stored as that second (as Swift does), so the value always fits the expirer's queue.
    """
    now = time.time() if now is None else now
    if "x-delete-after" in headers:
        value = headers["x-delete-after"].strip()
        try:
            after = int(value)
        except ValueError:
            raise BadHeaders(400, "Non-integer X-Delete-After") from None
        if after < 0:
            raise BadHeaders(400, "X-Delete-After in past")
        # capped before the sum: a float cannot hold an int of hundreds of digits
        return str(min(int(now) + min(after, MAX_SECONDS), MAX_SECONDS))
    if "x-delete-at" in headers:
        value = headers["x-delete-at"].strip()
        try:
            delete_at = int(value)
        except ValueError:
            raise BadHeaders(400, "Non-integer X-Delete-At") from None
        if delete_at <= now:
            raise BadHeaders(400, "X-Delete-At in past")
        return str(min(delete_at, MAX_SECONDS))
    return None


def check_put_condition(headers: dict) -> None:
    """A PUT may only be conditional on the object not existing (`If-None-Match: *`)."""
    if_none_match = headers.get("if-none-match")
    if if_none_match is not None and if_none_match.strip() != "*":
        raise BadHeaders(400, "If-None-Match only supports *")


def check_if_delete_at(headers: dict) -> None:
    """A DELETE's X-If-Delete-At must be an integer (400 before anything is asked)."""
    value = headers.get("x-if-delete-at")
    if value is not None and capped_decimal(value.strip(), MAX_SECONDS + 1) is None:
        raise BadHeaders(400, "Non-integer X-If-Delete-At")


def check_metadata_bytes(headers: dict, kind: str) -> str | None:
    """common.constraints.check_metadata on the header bytes the client really sent.

    WSGI hands header values over as latin-1 text; UTF-8 values must be decoded before their
    length is counted and their validity checked.
    """
    prefix = constraints.META_PREFIXES[kind]
    errors = "surrogateescape" if kind == "object" else "strict"  # see check_metadata
    decoded = {}
    for name, value in headers.items():
        if name.startswith(prefix):
            try:
                decoded[name] = value.encode("latin-1").decode("utf-8", errors)
            except (UnicodeEncodeError, UnicodeDecodeError):
                return "metadata must be valid UTF-8"
    return constraints.check_metadata(decoded, kind)


def check_write(headers: dict, internal: bool) -> None:
    """Metadata limits and reserved headers (raises BadHeaders)."""
    reason = check_metadata_bytes(headers, "object")
    if reason:
        raise BadHeaders(400, reason)
    if not internal:
        for name in headers:
            if name.startswith(REFUSED_FROM_CLIENTS):
                raise BadHeaders(400, f"{name} is a reserved header")

    manifest = headers.get("x-object-manifest")
    if manifest is not None:
        container, sep, _prefix = manifest.lstrip("/").partition("/")
        if not sep or not container:
            raise BadHeaders(400, "X-Object-Manifest must be <container>/<prefix>")


def backend_write_headers(headers: dict, obj_name: str, timestamp: str,
                          internal: bool) -> dict:
    """Headers for the object servers on PUT (user metadata and stored attributes)."""
    out = {"X-Timestamp": timestamp}
    for name, value in headers.items():
        if name in PASSED_ON_WRITE or name.startswith("x-object-meta-"):
            out[name] = value
        elif internal and name.startswith(INTERNAL_ONLY):
            out[name] = value
    if "content-type" not in out:
        guessed = mimetypes.guess_type(obj_name, strict=False)[0]
        out["content-type"] = guessed or "application/octet-stream"
    delete_at = check_delete_at(headers)
    out.pop("x-delete-at", None)
    if delete_at is not None:
        out["X-Delete-At"] = delete_at
    return out


def backend_read_headers(headers: dict) -> dict:
    return {name: headers[name] for name in READ_CONDITIONS if name in headers}


def container_slot_headers(container_part, container_nodes: list, slot: int) -> dict:
    if not container_nodes:
        return {}
    node = container_nodes[slot % len(container_nodes)]
    return {
        "X-Container-Host": f"{node['ip']}:{node['port']}",
        "X-Container-Device": node["device"],
        "X-Container-Partition": str(container_part),
    }
