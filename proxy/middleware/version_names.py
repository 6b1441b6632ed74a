"""How object versioning names things: version ids, the hidden versions container, pointers.

Pure functions, no IO. A version id is the `Timestamp.normal` of the write that made it
(`1733300000.12345`); `null` names the plain object of the container itself (written while
versioning was off). Every version of `<container>/<object>` is stored in the hidden
container `versions_container(container)` as `<object>` + SEPARATOR + the inverted id, so a
listing of that container is sorted by object name, then newest version first. The
container's object is then a *pointer*: an empty object whose sysmeta names the version it
stands for and whose container listing row carries that version's ETag, id and size as
parameters of its `hash` (see `pointer_listing_etag` / `parse_pointer_etag`).

Hidden names start with HIDDEN_MARK, a control character clients may not use in container
names (the middleware refuses it), which sorts them before every other name.
"""
from __future__ import annotations

from common.timestamp import InvalidTimestamp, Timestamp
from common.truth import TRUE_VALUES

NULL_VERSION = "null"
HIDDEN_MARK = "\x01"
VERSIONS_PREFIX = HIDDEN_MARK + "versions" + HIDDEN_MARK
SEPARATOR = "\x01"
# Every hidden container name is below this (for account listings that skip them).
PAST_HIDDEN = HIDDEN_MARK + "\U0010ffff"
INVERT_FROM = 10 ** 15 - 1
DELETE_MARKER_CONTENT_TYPE = "application/x-deleted;swift_versions_deleted=1"

# Sysmeta of the versioned container, and of a pointer object.
CONTAINER_SYSMETA = "x-container-sysmeta-versions-enabled"
POINTER_SYSMETA = "x-object-sysmeta-versions-pointer"
POINTER_ID_PARAM = "versions_id"
POINTER_BYTES_PARAM = "versions_bytes"


def versions_container(container: str) -> str:
    return VERSIONS_PREFIX + container


def is_hidden_container(container: str | None) -> bool:
    return bool(container) and container.startswith(HIDDEN_MARK)


def check_version_id(value: str) -> Timestamp | None:
    """The Timestamp a client's version id stands for, or None when it is not one."""
    if len(value) != 16 or value[10:11] != "." or not (value[:10] + value[11:]).isdigit():
        return None
    try:
        return Timestamp(value)
    except InvalidTimestamp:
        return None


def inverted(version_id: str) -> str:
    """The fixed-width inverted ticks of a version id: newer versions sort first."""
    return f"{INVERT_FROM - Timestamp(version_id).ticks:015d}"


def version_object(obj: str, version_id: str) -> str:
    """The name, in the versions container, of version `version_id` of `obj`."""
    return obj + SEPARATOR + inverted(version_id)


def split_version_object(name: str) -> tuple[str, str] | None:
    """`version_object`'s inverse: (object, version id), or None for another name."""
    obj, sep, inv = name.rpartition(SEPARATOR)
    if not sep or len(inv) != 15 or not inv.isdigit():
        return None
    ticks = INVERT_FROM - int(inv)
    seconds, frac = divmod(ticks, 100000)
    return obj, f"{seconds:010d}.{frac:05d}"


def pointer_listing_etag(etag: str, version_id: str, size: int) -> str:
    """The `hash` a pointer's container row carries: the version's ETag, id and size."""
    return f"{etag}; {POINTER_ID_PARAM}={version_id}; {POINTER_BYTES_PARAM}={size}"


def parse_pointer_etag(value: str) -> tuple[str, str | None, int | None]:
    """A listing row's hash -> (etag, version id or None, size or None)."""
    if ";" not in value:
        return value, None, None
    etag, *params = (part.strip() for part in value.split(";"))
    version_id = size = None
    for param in params:
        key, _sep, text = param.partition("=")
        if key == POINTER_ID_PARAM:
            version_id = text
        elif key == POINTER_BYTES_PARAM and text.isdigit():
            size = int(text)
    return etag, version_id, size


def parse_enabled(value: str) -> bool | None:
    """X-Versions-Enabled: True/False (any of the usual spellings), None when neither."""
    lowered = value.strip().lower()
    if lowered in TRUE_VALUES:
        return True
    if lowered in ("false", "0", "no", "off", "f", "n"):
        return False
    return None
