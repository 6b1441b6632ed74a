"""Conditional requests (RFC 7232) for objects: If-Match, If-None-Match, If-Modified-Since,
If-Unmodified-Since.

`precondition_status(headers, etag, last_modified, method)` returns None when the request may
proceed, or the status to answer instead (304 or 412), evaluated in the RFC's order: If-Match
and If-Unmodified-Since (both are checked, as Swift does), then If-None-Match (else
If-Modified-Since, on reads). `last_modified` is whole seconds since the epoch (HTTP dates
have no fractions), as `Last-Modified` shows. A date in the future is still compared (Swift's
behaviour), and a date without a zone (asctime form) is read as GMT.
"""
from __future__ import annotations

import datetime
import email.utils
import math

READ_METHODS = ("GET", "HEAD")


def last_modified_seconds(timestamp_seconds: float) -> int:
    """Last-Modified is the timestamp rounded up to a whole second."""
    return math.ceil(timestamp_seconds)


def http_date(seconds: float) -> str:
    return email.utils.formatdate(seconds, usegmt=True)


def parse_http_date(value: str | None) -> float | None:
    """Seconds since the epoch for a valid HTTP date; None for absent or invalid values."""
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:  # asctime dates carry no zone: HTTP dates are always GMT
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()


def parse_etag_list(value: str) -> list[str]:
    """`"a", W/"b", c` -> ["a", "b", "c"]; `*` stays `*`."""
    tags = []
    for item in value.split(","):
        item = item.strip()
        if item.startswith("W/"):
            item = item[2:]
        if len(item) >= 2 and item[0] == item[-1] == '"':
            item = item[1:-1]
        if item:
            tags.append(item)
    return tags


def etag_matches(header: str, etag: str) -> bool:
    tags = parse_etag_list(header)
    return "*" in tags or etag in tags


def precondition_status(headers, etag: str, last_modified: int, method: str) -> int | None:
    if_match = headers.get("If-Match")
    if if_match is not None and not etag_matches(if_match, etag):
        return 412
    since = parse_http_date(headers.get("If-Unmodified-Since"))
    if since is not None and last_modified > since:
        return 412
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        if etag_matches(if_none_match, etag):
            return 304 if method in READ_METHODS else 412
    elif method in READ_METHODS:
        since = parse_http_date(headers.get("If-Modified-Since"))
        if since is not None and last_modified <= since:
            return 304
    return None
