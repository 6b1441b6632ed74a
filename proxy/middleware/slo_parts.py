"""`?part-number=N` on a GET/HEAD of an SLO: the N-th entry of its manifest, as a range.

No IO. Parts are the manifest's own entries (a nested SLO is one part), numbered from 1. The
answer is a 206 with that part's `Content-Range` and `X-Parts-Count`; a number past the last
part is a 416, anything but a positive integer a 400.
"""
from __future__ import annotations

from urllib.parse import parse_qs

INVALID = "invalid"
INVALID_REASON = "Part number must be an integer greater than 0"
UNSATISFIABLE_REASON = "The requested part number is not satisfiable"


def requested_part(query: str):
    """None (not asked), INVALID, or the part number asked for."""
    if "part-number" not in query:
        return None
    values = parse_qs(query, keep_blank_values=True).get("part-number")
    if not values:
        return None
    text = values[0].strip()
    if not text.isascii() or not text.isdigit() or int(text) < 1:
        return INVALID
    return int(text)


def part_range(segments, number: int):
    """(first, last) byte of part `number` (1-based) in the large object, or None past the
    last part."""
    if number > len(segments):
        return None
    first = sum(segment.size for segment in segments[:number - 1])
    return first, first + segments[number - 1].size - 1
