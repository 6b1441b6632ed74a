"""Storage quotas without IO: reading a quota value, and whether a write would exceed it.

A quota is a non-negative integer of bytes or objects; an empty value removes it. A write of
`new_bytes` bytes (one new object) fits when `used + new_bytes <= max_bytes` and
`count + 1 <= max_count`. Like Swift, an overwrite counts as a new object. A chunked upload (length
unknown) is let in while the quota is not reached yet, its body capped (`CappedBody`) at what
is left: one byte more aborts it with 413 before the replicas commit anything.
A stored value that is not a valid quota (written before validation existed, or by hand) is
ignored rather than enforced.
"""
from __future__ import annotations

from dataclasses import dataclass

from common.http_errors import HTTPError


@dataclass(frozen=True)
class Usage:
    """What an account or container holds now."""

    bytes_used: int
    object_count: int


@dataclass(frozen=True)
class Limits:
    """The quotas that apply (None: no quota)."""

    max_bytes: int | None = None
    max_count: int | None = None


def parse_quota(header: str, value: str) -> int | None:
    """A quota header's value -> the quota, None to remove it; 400 if it is not one."""
    text = value.strip()
    if text == "":
        return None
    if not text.isascii() or not text.isdigit():
        raise HTTPError(400, f"{header} must be a non-negative integer, got {value[:40]!r}")
    return int(text)


def stored_quota(value: str | None) -> int | None:
    """A stored quota, or None when absent or not a valid quota (then not enforced)."""
    if value is None:
        return None
    text = value.strip()
    if not text or not text.isascii() or not text.isdigit():
        return None
    return int(text)


def stored_count(value: str | None) -> int:
    """A byte or object count reported by a storage server (0 when absent or garbled)."""
    text = (value or "").strip()
    return int(text) if text.isascii() and text.isdigit() else 0


def exceeded(limits: Limits, usage: Usage, new_bytes: int, new_objects: int = 1) -> str | None:
    """Why a write of `new_bytes` (`new_objects` new objects) breaks `limits`, or None."""
    if limits.max_bytes is not None and usage.bytes_used + new_bytes > limits.max_bytes:
        return f"upload exceeds quota: {limits.max_bytes} bytes"
    if limits.max_count is not None and usage.object_count + new_objects > limits.max_count:
        return f"upload exceeds quota: {limits.max_count} objects"
    return None


def request_length(content_length: str | None) -> int:
    """The bytes a PUT announces (0 when chunked or garbled: the app refuses the latter)."""
    text = (content_length or "").strip()
    return int(text) if text.isascii() and text.isdigit() else 0


class CappedBody:
    """A request body (`read(n)`) that aborts with 413 once it passes `allowance` bytes."""

    def __init__(self, body, allowance: int, reason: str):
        self._body = body
        self._left = allowance
        self._reason = reason

    def read(self, size: int = -1) -> bytes:
        data = self._body.read(size)
        self._left -= len(data)
        if self._left < 0:
            raise HTTPError(413, self._reason)
        return data


def cap_chunked_body(environ, limits: Limits, bytes_used: int) -> None:
    """A PUT of unknown length may bring at most what is left of the bytes quota."""
    if limits.max_bytes is not None and not environ.get("CONTENT_LENGTH") \
            and environ.get("wsgi.input") is not None:
        environ["wsgi.input"] = CappedBody(environ["wsgi.input"],
                                           limits.max_bytes - bytes_used,
                                           f"upload exceeds quota: {limits.max_bytes} bytes")
