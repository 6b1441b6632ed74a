"""Whole numbers written in request text (headers, ranges), read without trusting their size.

`capped_decimal(text, cap)` is `min(int(text), cap)` for text of ASCII digits only (no sign,
no spaces, no other scripts' digits, which `str.isdigit` and `int` accept) and None for any
other text. It never converts more digits than `cap` has, so a value of thousands of digits,
which `int()` refuses (Python's limit on converting strings to integers), is just `cap`.
Callers decide what reaching the cap means: refused (a length), or "past any end" (a range
position, a time).
"""
from __future__ import annotations

# No body, object or range position is this long: lengths reaching it are refused.
BEYOND_ANY_LENGTH = 10**18


def capped_decimal(text: str, cap: int) -> int | None:
    """`min(int(text), cap)` for ASCII digits, else None (see the module doc)."""
    if not (text.isascii() and text.isdigit()):
        return None
    digits = text.lstrip("0") or "0"
    if len(digits) > len(str(cap)):
        return cap
    return min(int(digits), cap)
