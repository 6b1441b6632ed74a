"""The cluster's limits on names, metadata and sizes (Swift's defaults), and their checks.

Each check returns None when the input is fine or a one-line reason when it is not; the
caller (proxy or storage server) turns the reason into a 400/412/413 response. Keeping the
checks free of HTTP makes them usable from every server and from the CLI.
"""
from __future__ import annotations

MAX_FILE_SIZE = 5 * 1024**3  # 5 GiB, a single object
MAX_META_NAME_LENGTH = 128
MAX_META_VALUE_LENGTH = 256
MAX_META_COUNT = 90
MAX_META_OVERALL_SIZE = 4096
MAX_HEADER_SIZE = 8192
MAX_OBJECT_NAME_LENGTH = 1024
CONTAINER_LISTING_LIMIT = 10000
ACCOUNT_LISTING_LIMIT = 10000
MAX_ACCOUNT_NAME_LENGTH = 256
MAX_CONTAINER_NAME_LENGTH = 256

# Which metadata headers belong to which kind of entity.
META_PREFIXES = {
    "object": "x-object-meta-",
    "container": "x-container-meta-",
    "account": "x-account-meta-",
}

LIMITS = {
    "max_file_size": MAX_FILE_SIZE,
    "max_meta_name_length": MAX_META_NAME_LENGTH,
    "max_meta_value_length": MAX_META_VALUE_LENGTH,
    "max_meta_count": MAX_META_COUNT,
    "max_meta_overall_size": MAX_META_OVERALL_SIZE,
    "max_header_size": MAX_HEADER_SIZE,
    "max_object_name_length": MAX_OBJECT_NAME_LENGTH,
    "container_listing_limit": CONTAINER_LISTING_LIMIT,
    "account_listing_limit": ACCOUNT_LISTING_LIMIT,
    "max_account_name_length": MAX_ACCOUNT_NAME_LENGTH,
    "max_container_name_length": MAX_CONTAINER_NAME_LENGTH,
}


def check_utf8(name: str | bytes) -> str | None:
    """Names must be valid UTF-8 without NUL bytes."""
    if isinstance(name, str):
        try:
            raw = name.encode("utf-8")
        except UnicodeEncodeError:
            return "name is not valid UTF-8"
    else:
        raw = name
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return "name is not valid UTF-8"
    if b"\x00" in raw:
        return "name contains a NUL byte"
    return None


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


def check_account_name(name: str) -> str | None:
    if not name:
        return "account name is empty"
    if _byte_len(name) > MAX_ACCOUNT_NAME_LENGTH:
        return f"account name longer than {MAX_ACCOUNT_NAME_LENGTH} bytes"
    return check_utf8(name)


def check_container_name(name: str) -> str | None:
    if not name:
        return "container name is empty"
    if "/" in name:
        return "container name contains '/'"
    if _byte_len(name) > MAX_CONTAINER_NAME_LENGTH:
        return f"container name longer than {MAX_CONTAINER_NAME_LENGTH} bytes"
    return check_utf8(name)


def check_object_name(name: str) -> str | None:
    if not name:
        return "object name is empty"
    if _byte_len(name) > MAX_OBJECT_NAME_LENGTH:
        return f"object name longer than {MAX_OBJECT_NAME_LENGTH} bytes"
    return check_utf8(name)


def check_metadata(headers: dict[str, str], kind: str) -> str | None:
    """Check the user metadata headers of an account/container/object request.

    `headers` maps lower- or mixed-case header names to values; only those with the
    kind's prefix are counted. Returns a reason or None.
    """
    prefix = META_PREFIXES[kind]
    count = 0
    total = 0
    for header, value in headers.items():
        lowered = header.lower()
        if not lowered.startswith(prefix):
            continue
        key = header[len(prefix) :]
        if not key:
            return "metadata name cannot be empty"
        # Object metadata values are bytes as far as Swift is concerned (its own suite
        # writes cut UTF-8); names, and account/container values, must be UTF-8.
        if check_utf8(key) or (kind != "object" and check_utf8(value)):
            return "metadata must be valid UTF-8"
        count += 1
        key_len = _byte_len(key)
        value_len = _byte_len(value)
        if key_len > MAX_META_NAME_LENGTH:
            return f"metadata name too long; max {MAX_META_NAME_LENGTH}: {key[:40]}"
        if value_len > MAX_META_VALUE_LENGTH:
            return f"metadata value longer than {MAX_META_VALUE_LENGTH}: {key[:40]}"
        total += key_len + value_len
    if count > MAX_META_COUNT:
        return f"too many metadata items; max {MAX_META_COUNT}"
    if total > MAX_META_OVERALL_SIZE:
        return f"total metadata too large; max {MAX_META_OVERALL_SIZE}"
    return None
