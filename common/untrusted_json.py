"""Parsing JSON a client sent: strict UTF-8 and JSON, bounded nesting, one error type.

`json.loads` alone lets bad input through in ways that fail later, far from the parse:
100 000-deep arrays raise `RecursionError` (not a `ValueError`), `NaN`/`Infinity`/`1e999`
become floats no JSON encoder can write back, and `"\\ud800"` becomes a string SQLite and
UTF-8 encoders refuse. `parse_untrusted_json` turns every one of those into
`UntrustedJSONError` (a `ValueError` with a one-line reason) at the parse, so each service
answers them with its own 400.
"""
from __future__ import annotations

import json
import math

MAX_DEPTH = 64


class UntrustedJSONError(ValueError):
    """The bytes are not an acceptable JSON document; the message says why, in one line."""


def _refuse_constant(name: str):
    raise UntrustedJSONError(f"{name} is not valid JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UntrustedJSONError("number out of range")
    return value


def parse_untrusted_json(raw: bytes, max_depth: int = MAX_DEPTH):
    """The JSON value in `raw` (UTF-8); UntrustedJSONError when it is not acceptable."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UntrustedJSONError("body is not valid UTF-8") from None
    try:
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except RecursionError:
        raise UntrustedJSONError(f"JSON nested deeper than {max_depth} levels") from None
    except UntrustedJSONError:
        raise
    except ValueError:
        raise UntrustedJSONError("body is not valid JSON") from None
    _check_shape(value, max_depth)
    return value


def _check_shape(value, max_depth: int) -> None:
    """Nesting at most `max_depth`, every string (and key) encodable as UTF-8; no recursion."""
    pending = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, (list, dict)):
            if depth > max_depth:
                raise UntrustedJSONError(f"JSON nested deeper than {max_depth} levels")
            if isinstance(item, dict):
                for key, inner in item.items():
                    _check_text(key)
                    pending.append((inner, depth + 1))
            else:
                pending.extend((inner, depth + 1) for inner in item)


def _check_text(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise UntrustedJSONError("JSON string is not valid Unicode (lone surrogate)") \
                from None
