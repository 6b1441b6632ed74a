"""Input checks for API request bodies, raising HTTPError 400 with Nova-like messages."""
from __future__ import annotations

import base64
import binascii
import re
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


BASE64_RE = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")
MAX_USER_DATA = 64 * 1024  # bytes of base64 text, as Nova's 65535-character limit


def check_user_data(value) -> str | None:
    """`user_data`: base64 text of at most MAX_USER_DATA bytes (newlines allowed); returned
    without whitespace. HTTPError 400 otherwise."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise HTTPError(400, "Invalid input: user_data must be a base64 string.")
    if len(value) > MAX_USER_DATA:
        raise HTTPError(400, f"Invalid input: user_data is longer than {MAX_USER_DATA} "
                        "bytes of base64.")
    compact = "".join(value.split())
    try:
        if len(compact) % 4 or not BASE64_RE.match(compact):
            raise ValueError("not base64")
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPError(400, "Invalid input: user_data is not valid base64.") from None
    return compact


def check_config_drive(value) -> bool:
    """`config_drive`: a boolean (or Nova's older string forms); HTTPError 400 otherwise."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off", ""):
        return False
    raise HTTPError(400, "Invalid input: config_drive must be a boolean.")
