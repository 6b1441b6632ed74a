"""Where bulk operations write and delete: tar member names and delete-list lines as paths.

No IO beyond reading a given stream. `member_destination` maps an archive member to the
`(container, object)` it is uploaded to under the request's path, refusing names that climb
out of it (`..`); `read_delete_list` reads a `?bulk-delete` body (one URL-quoted
`container[/object]` per line) with bounded memory.
"""
from __future__ import annotations

from urllib.parse import unquote

from common import constraints

MAX_PATH_LENGTH = constraints.MAX_CONTAINER_NAME_LENGTH + constraints.MAX_OBJECT_NAME_LENGTH + 2


class PathRefused(ValueError):
    """A name that cannot be used as a destination (its message says why)."""


def member_destination(upload_path: str, member_name: str) -> tuple[str, str]:
    """`upload_path` ('' | 'cont' | 'cont/prefix') + a member name -> (container, object).

    Leading `/` and `./` are dropped (archives made with absolute or `.`-relative names);
    a `..` component is refused, as are names with no object part at the account level.
    """
    if _has_surrogates(member_name):
        raise PathRefused("name is not valid UTF-8")
    name = member_name
    while True:
        stripped = name.lstrip("/")
        if stripped.startswith("./"):
            stripped = stripped[2:]
        if stripped == name:
            break
        name = stripped
    if not name:
        raise PathRefused("empty name")
    if ".." in name.split("/"):
        raise PathRefused("'..' in a name would climb out of the upload path")
    full = f"{upload_path}/{name}" if upload_path else name
    container, _sep, obj = full.partition("/")
    if not container or not obj:
        raise PathRefused("a file at the top of an account-level archive has no container")
    return container, obj


def _has_surrogates(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def upload_path_of(container: str | None, obj: str | None) -> str:
    """The request's `/v1/<account>[/<container>[/<prefix>]]` below the account."""
    if container is None:
        return ""
    return container if obj is None else f"{container}/{obj.rstrip('/')}"


def delete_target(line: str) -> tuple[str, str | None]:
    """A delete-list line -> (container, object or None); PathRefused when it names none."""
    if len(line) > MAX_PATH_LENGTH:
        raise PathRefused(f"longer than {MAX_PATH_LENGTH} characters")
    if _has_surrogates(line):
        raise PathRefused("not valid UTF-8")
    try:
        path = unquote(line.strip(), errors="strict").lstrip("/")
    except UnicodeDecodeError:
        raise PathRefused("its %-escapes are not valid UTF-8") from None
    container, _sep, obj = path.partition("/")
    if not container:
        raise PathRefused("no container")
    return container, (obj or None)


def read_delete_list(stream, max_lines: int, chunk_size: int = 65536) -> list[str]:
    """The non-empty lines of a delete list (bytes in, text out); ValueError past `max_lines`.

    Memory stays bounded: a line longer than MAX_PATH_LENGTH is kept cut to just over it (so
    `delete_target`'s caller refuses it as too long) and the rest of it is skipped.
    """
    lines: list[str] = []
    buffer = b""
    skipping = False  # inside a line already kept cut
    while True:
        chunk = stream.read(chunk_size)
        buffer += chunk
        pieces = buffer.split(b"\n")
        buffer = pieces.pop()
        for piece in pieces:
            if skipping:
                skipping = False
                continue
            _add_line(lines, piece, max_lines)
        if len(buffer) > MAX_PATH_LENGTH:
            if not skipping:
                _add_line(lines, buffer[:MAX_PATH_LENGTH + 1], max_lines)
                skipping = True
            buffer = b""
        if not chunk:
            if buffer and not skipping:
                _add_line(lines, buffer, max_lines)
            return lines


def _add_line(lines: list[str], raw: bytes, max_lines: int) -> None:
    text = raw.strip().decode("utf-8", "surrogateescape")
    if not text:
        return
    if len(lines) >= max_lines:
        raise ValueError(f"more than {max_lines} paths in one bulk delete")
    lines.append(text)
