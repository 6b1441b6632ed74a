"""HTTP byte ranges (RFC 7233) for GET: parsing `Range` and framing multipart/byteranges.

`parse_range(header, length)` returns the satisfiable ranges as `(start, end_exclusive)`:
None means "ignore the header, send everything" (absent, malformed, not `bytes=`, or too many
ranges) and `UnsatisfiableRange` means 416. `multipart_parts` / `multipart_length` frame
several ranges of one body lazily, so the body still streams in bounded chunks.
"""
from __future__ import annotations

import os

from common.decimal_text import BEYOND_ANY_LENGTH, capped_decimal

MAX_RANGES = 50


class UnsatisfiableRange(Exception):
    """No requested range overlaps the body: answer 416."""


def parse_range(header: str | None, length: int) -> list[tuple[int, int]] | None:
    if not header:
        return None
    unit, sep, spec = header.strip().partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    wanted: list[tuple[int | None, int | None]] = []
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        first, dash, last = item.partition("-")
        first, last = first.strip(), last.strip()
        if not dash or not (first or last):
            return None
        # a position past any body reads as BEYOND_ANY_LENGTH (however many digits it has)
        start = capped_decimal(first, BEYOND_ANY_LENGTH) if first else None
        end = capped_decimal(last, BEYOND_ANY_LENGTH) if last else None
        if (first and start is None) or (last and end is None):
            return None
        if start is not None and end is not None and end < start:
            return None
        wanted.append((start, end))
    if not wanted or len(wanted) > MAX_RANGES:
        return None
    satisfiable = []
    for start, end in wanted:
        if start is None:  # suffix range: the last `end` bytes
            if end == 0 or length == 0:
                continue
            satisfiable.append((max(0, length - end), length))
        elif start < length:
            stop = length if end is None else min(end + 1, length)
            satisfiable.append((start, stop))
    if not satisfiable:
        raise UnsatisfiableRange()
    return satisfiable


def content_range(start: int, end_exclusive: int, length: int) -> str:
    return f"bytes {start}-{end_exclusive - 1}/{length}"


def new_boundary() -> str:
    return os.urandom(16).hex()


def _part_header(boundary: str, content_type: str, rng, length: int, first: bool) -> bytes:
    lead = "" if first else "\r\n"
    return (
        f"{lead}--{boundary}\r\nContent-Type: {content_type}\r\n"
        f"Content-Range: {content_range(rng[0], rng[1], length)}\r\n\r\n"
    ).encode("latin-1")


def _closing(boundary: str) -> bytes:
    return f"\r\n--{boundary}--".encode("latin-1")


def multipart_length(ranges, boundary: str, content_type: str, length: int) -> int:
    total = len(_closing(boundary))
    for index, rng in enumerate(ranges):
        total += len(_part_header(boundary, content_type, rng, length, index == 0))
        total += rng[1] - rng[0]
    return total


def multipart_parts(ranges, boundary: str, content_type: str, length: int, read_range):
    """Yield the multipart body; `read_range(start, end)` yields the bytes of one range."""
    for index, rng in enumerate(ranges):
        yield _part_header(boundary, content_type, rng, length, index == 0)
        yield from read_range(rng[0], rng[1])
    yield _closing(boundary)
