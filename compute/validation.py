"""Input checks for API request bodies, raising HTTPError 400 with Nova-like messages."""
from __future__ import annotations

import unicodedata

from common.http_errors import HTTPError

MAX_NAME = 255


def check_name(value, what: str = "name") -> str:
    """A display name: 1–255 characters, no leading/trailing whitespace, no control chars."""
    if not isinstance(value, str):
        raise HTTPError(400, f"Invalid input: {what} must be a string.")
    if not value or len(value) > MAX_NAME:
        raise HTTPError(400, f"Invalid input: {what} must be 1 to {MAX_NAME} characters.")
    if value != value.strip():
        raise HTTPError(400, f"Invalid input: {what} has leading or trailing whitespace.")
    if any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value):
        raise HTTPError(400, f"Invalid input: {what} contains control characters.")
    return value


def positive_int_field(spec: dict, key: str, minimum: int = 0) -> int:
    value = spec.get(key)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise HTTPError(400, f"Invalid input: '{key}' must be an integer >= {minimum}.")
    if value > 2**31 - 1:
        raise HTTPError(400, f"Invalid input: '{key}' is too large.")
    return value


def check_metadata(value) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise HTTPError(400, "Invalid input: metadata must be an object.")
    if len(value) > 128:
        raise HTTPError(403, "Quota exceeded for metadata items: at most 128.")
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= 255:
            raise HTTPError(400, "Invalid input: metadata keys must be 1 to 255 characters.")
        if not isinstance(item, str) or len(item) > 255:
            raise HTTPError(400, "Invalid input: metadata values must be strings of at most "
                            "255 characters.")
    return dict(value)
