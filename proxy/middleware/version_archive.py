"""Legacy versioned writes: container settings, archive names, delete markers. No IO.

A container names its archive container with `X-Versions-Location` (stack mode: a DELETE
brings the previous version back) or `X-History-Location` (history mode: a DELETE archives
the object and leaves a delete marker). Both are kept as container sysmeta
(`SYSMETA_LOCATION`, URL-quoted, and `SYSMETA_MODE`). A version of `<name>` is archived as
`<3 hex digits: UTF-8 length of name><name>/<timestamp of that version>`, so a listing with
that prefix is the object's history in time order.
"""
from __future__ import annotations

from urllib.parse import quote, unquote

from common import constraints

STACK_HEADER = "x-versions-location"
HISTORY_HEADER = "x-history-location"
SYSMETA_LOCATION = "x-container-sysmeta-versions-location"
SYSMETA_MODE = "x-container-sysmeta-versions-mode"
STACK, HISTORY = "stack", "history"
MODE_HEADERS = {STACK: "X-Versions-Location", HISTORY: "X-History-Location"}
DELETE_MARKER_TYPE = "application/x-deleted;swift_versions_deleted=1"
# What an archived copy keeps of the object (plus its sysmeta and X-Symlink-Target*).
COPIED_HEADERS = ("content-type", "content-encoding", "content-disposition",
                  "x-object-manifest", "x-static-large-object", "x-symlink-target",
                  "x-symlink-target-account", "x-symlink-target-etag",
                  "x-symlink-target-bytes")


class SettingError(ValueError):
    """A container write whose versioning headers cannot be accepted (one-line reason)."""


def setting_from_headers(headers: dict) -> dict | None:
    """The sysmeta a container PUT/POST (lower-case `headers`) sets, or None to leave it.

    An empty value or `X-Remove-Versions-Location`/`X-Remove-History-Location` turns
    versioning off; a value sets it, winning over a removal sent alongside.
    """
    stack = headers.get(STACK_HEADER)
    history = headers.get(HISTORY_HEADER)
    if stack and history:
        raise SettingError("only one of X-Versions-Location or X-History-Location "
                           "may be given")
    value, mode = (stack, STACK) if stack else (history, HISTORY)
    if value:
        try:  # WSGI carries the header's bytes as latin-1 text
            value = value.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            raise SettingError(f"{MODE_HEADERS[mode]} must be UTF-8") from None
        location = unquote(value).strip()
        if "/" in location or constraints.check_container_name(location):
            raise SettingError(f"{MODE_HEADERS[mode]} must name a container")
        # Stored URL-quoted: sysmeta travels as an HTTP header (ASCII-safe).
        return {SYSMETA_LOCATION: quote(location), SYSMETA_MODE: mode}
    removals = ("x-remove-versions-location", "x-remove-history-location")
    if stack is not None or history is not None or any(h in headers for h in removals):
        return {SYSMETA_LOCATION: "", SYSMETA_MODE: ""}
    return None


def setting_of(headers) -> tuple[str, str] | None:
    """(archive container, mode) from a container's sysmeta headers, or None."""
    found = {name.lower(): value for name, value in headers
             if name.lower() in (SYSMETA_LOCATION, SYSMETA_MODE)}
    location = found.get(SYSMETA_LOCATION)
    if not location:
        return None
    mode = found.get(SYSMETA_MODE) or STACK
    return unquote(location), mode if mode in (STACK, HISTORY) else STACK


def client_setting_header(setting: tuple[str, str]) -> tuple[str, str]:
    location, mode = setting
    return MODE_HEADERS[mode], quote(location)


def archive_prefix(obj: str) -> str:
    return f"{len(obj.encode('utf-8')):03x}{obj}/"


def archive_name(obj: str, timestamp: str) -> str:
    return archive_prefix(obj) + timestamp


def is_delete_marker(entry: dict) -> bool:
    return entry.get("content_type") == DELETE_MARKER_TYPE
