"""What a `/v1/<account>[/<container>[/<object>]]` path addresses, decoded from PATH_INFO.

Parsing is memoized: the auth, large-object and copy middleware and the proxy app each ask
about the same path of one request, and a `Target` is never changed once made.
"""
from __future__ import annotations

import functools

VERSIONS = frozenset({"v1", "v1.0"})
# Swift's own reasons, which clients and Swift's functional suite compare word for word.
INVALID_PATH = "Invalid UTF8 or contains NULL"
BAD_URL = "Bad URL"


class Target:
    """The account/container/object a request addresses (names already decoded)."""

    __slots__ = ("account", "container", "obj", "path")

    def __init__(self, account: str, container: str | None, obj: str | None):
        self.account = account
        self.container = container
        self.obj = obj
        parts = [account]
        if container is not None:
            parts.append(container)
            if obj is not None:
                parts.append(obj)
        self.path = "/" + "/".join(parts)


@functools.lru_cache(maxsize=1024)
def parse_target(path_info: str) -> tuple[str | None, Target | None, str]:
    """-> (version, target, reason). reason is '' when fine.

    As Swift answers: a path that is not UTF-8 or holds a NUL, and a path naming no account
    (`/v1`, `/v1/`, `/anything-but-a-version`) have a reason (a 412); a target of None with
    no reason is a 404 (an unknown version before an account, `//v1/a`, `/`, an empty
    account before a container: `/v1//c/o`).
    """
    try:
        path = path_info.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return None, None, INVALID_PATH
    if "\x00" in path:
        return None, None, INVALID_PATH
    pieces = path.split("/", 4)
    if pieces[0] != "" or len(pieces) < 2 or not pieces[1]:
        return None, None, ""
    if len(pieces) < 3 or not pieces[2]:
        names_nothing = len(pieces) <= 3  # `/v1`, `/v1/`; `/v1//c/o` lacks an account: 404
        return None, None, BAD_URL if names_nothing and (
            pieces[1] in VERSIONS or len(pieces) == 2) else ""
    if pieces[1] not in VERSIONS:
        return None, None, ""
    account = pieces[2]
    container = pieces[3] if len(pieces) > 3 and pieces[3] else None
    obj = pieces[4] if len(pieces) > 4 and pieces[4] else None
    if container is None and obj is not None:
        return None, None, ""
    return pieces[1], Target(account, container, obj), ""


def object_target(path_info: str) -> Target | None:
    """The object a path addresses, or None (not an object path, or a malformed one)."""
    _version, target, reason = parse_target(path_info)
    if reason or target is None or target.obj is None:
        return None
    return target
