"""Which request headers an object keeps, and the response headers built from its metadata.

Stored on PUT: `Content-Type`, the computed `ETag`, `Content-Length`, `X-Timestamp`, the
object's `name`, every `X-Object-Meta-*` and `X-Object-Sysmeta-*` header, and the passthrough
headers below. A POST (`.meta`) stores `X-Object-Meta-*` and `POST_HEADERS` only. Header names
are stored title-cased (`X-Object-Meta-Color`), values as the WSGI strings given (so the
exact header bytes come back). Every stored key except `name` and `BLOCK_CRC_KEY` is
returned as a response header on GET/HEAD. Limits on user metadata count UTF-8 bytes
(`check_user_metadata`).
"""
from __future__ import annotations

import time

from common.constraints import check_metadata
from common.decimal_text import capped_decimal
from common.http_errors import HTTPError
from common.timestamp import MAX_SECONDS
from storage.objects.conditional import http_date, last_modified_seconds
from storage.objects.metadata import BLOCK_CRC_KEY

USER_META_PREFIX = "x-object-meta-"
SYSMETA_PREFIX = "x-object-sysmeta-"
# lower-case request header -> stored (and returned) name
PASSTHROUGH_HEADERS = {
    "x-static-large-object": "X-Static-Large-Object",
    "x-object-manifest": "X-Object-Manifest",
    "content-disposition": "Content-Disposition",
    "content-encoding": "Content-Encoding",
    "x-delete-at": "X-Delete-At",
}
POST_HEADERS = {
    "x-object-manifest": "X-Object-Manifest",  # a POST makes, changes or unmakes a DLO
    "content-disposition": "Content-Disposition",
    "content-encoding": "Content-Encoding",
    "x-delete-at": "X-Delete-At",
}
NOT_RETURNED = frozenset({"name", BLOCK_CRC_KEY})
# Sysmeta a middleware sets so that the container row describes the object its own way (an
# SLO manifest: the large object's size, and `<manifest md5>; slo_etag=<its ETag>`).
OVERRIDE_SIZE = "X-Object-Sysmeta-Container-Update-Override-Size"
OVERRIDE_ETAG = "X-Object-Sysmeta-Container-Update-Override-Etag"


def canonical_name(header: str) -> str:
    return "-".join(part.capitalize() for part in header.split("-"))


def check_user_metadata(headers) -> None:
    """HTTPError(400) when the X-Object-Meta-* headers break the cluster's limits.

    WSGI hands header values over as latin-1 text; they are decoded as the UTF-8 they carry
    so that limits count real bytes (a cut UTF-8 sequence is kept as its bytes, as Swift does).
    """
    meta = {}
    for header, value in headers.items():
        if header.lower().startswith(USER_META_PREFIX):
            try:  # values may be cut UTF-8 (Swift stores them as bytes): only names must be
                meta[header] = value.encode("latin-1").decode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raise HTTPError(400, f"metadata must be valid UTF-8: {header[:64]}") from None
    reason = check_metadata(meta, "object")
    if reason:
        raise HTTPError(400, reason)


def delete_at_from_request(headers, now: float | None = None) -> str | None:
    """X-Delete-At (or X-Delete-After) as an int string; 400 when invalid or in the past.

    A time past the last ten-digit second is stored as that second, as the proxy does, so
    the value always names an expiry marker (`storage.objects.expiry_markers`)."""
    now = time.time() if now is None else now
    value = headers.get("X-Delete-At")
    after = headers.get("X-Delete-After")
    if value is None and after is not None:
        seconds = capped_decimal(after.strip(), MAX_SECONDS)
        if seconds is None:
            raise HTTPError(400, "X-Delete-After must be a non-negative integer")
        return str(min(int(now) + seconds, MAX_SECONDS))
    if value is None or value.strip() == "":
        return None
    try:
        delete_at = int(float(value.strip()))
    except (ValueError, OverflowError):
        raise HTTPError(400, "X-Delete-At must be an integer timestamp") from None
    if delete_at <= now:
        raise HTTPError(400, "X-Delete-At is in the past")
    return str(min(delete_at, MAX_SECONDS))


def metadata_from_request(headers, for_post: bool) -> dict:
    """The stored headers of a PUT (`for_post=False`) or a POST; empty values are dropped."""
    allowed = POST_HEADERS if for_post else PASSTHROUGH_HEADERS
    stored = {}
    for header, value in headers.items():
        lowered = header.lower()
        if lowered.startswith(USER_META_PREFIX) or (
            not for_post and lowered.startswith(SYSMETA_PREFIX)
        ):
            if value != "":
                stored[canonical_name(header)] = value
        elif lowered in allowed and lowered != "x-delete-at" and value != "":
            stored[allowed[lowered]] = value
    delete_at = delete_at_from_request(headers)
    if delete_at is not None:
        stored["X-Delete-At"] = delete_at
    return stored


def response_headers(metadata: dict, timestamp, data_timestamp) -> list[tuple[str, str]]:
    """Headers of a GET/HEAD (and 304) answer for an object with merged `metadata`."""
    headers = [(key, value) for key, value in metadata.items() if key not in NOT_RETURNED]
    headers.append(("Last-Modified", http_date(last_modified_seconds(timestamp.seconds))))
    headers.append(("X-Backend-Timestamp", timestamp.normal))
    headers.append(("X-Backend-Data-Timestamp", data_timestamp.normal))
    headers.append(("Accept-Ranges", "bytes"))
    return headers
