"""Pure listing logic shared by the container and account servers (no IO, no HTTP).

A listing request (`limit`, `marker`, `end_marker`, `prefix`, `delimiter` of any length,
`reverse`, or Swift's older `path`) is parsed into `ListingParams`, then `list_entries`
turns it into at most `limit` entries — database rows and `Subdir`s — by calling a `fetch`
callback that returns sorted rows from a name range. The database layer answers `fetch`
with one indexed SQL range query; tests answer it from a sorted Python list. With a
delimiter, every subdir found skips past all the names under it with a fresh range query
instead of reading them.

Semantics follow Swift's: names are compared by code point (equal to SQLite's byte order on
UTF-8). Forward: names > marker and < end_marker. Reverse: names < marker and > end_marker,
newest-name first. A subdir equal to the marker is not repeated, so paging with the last
entry as the next marker works for subdirs too. As in Swift, a `limit` that is not a plain
number is ignored, and markers may hold a NUL (`marker=name%00` starts just after `name`).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from common.truth import is_true

MAX_CODE_POINT = 0x10FFFF


class ListingError(Exception):
    """A bad listing parameter: `status` (400/412) and a one-line reason."""

    def __init__(self, status: int, reason: str):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class ListingParams:
    limit: int
    marker: str = ""
    end_marker: str = ""
    prefix: str = ""
    delimiter: str = ""
    reverse: bool = False
    # `path=P` (Swift's older directory listing): only the rows directly under P/, the
    # pseudo-directory markers (`P/sub/`) included, nothing deeper and no subdirs.
    path_mode: bool = False


@dataclass(frozen=True)
class Subdir:
    """A common prefix ending in the delimiter, standing for every name under it."""

    name: str


# fetch(lower, lower_inclusive, upper, prefix, reverse, limit) -> iterable of rows (name at
# index 0), read lazily (a database cursor is fine).
# rows: names in [lower or (lower, upper) exclusive of upper, starting with prefix,
# ascending (descending when reverse), at most limit of them. lower "" means no lower bound,
# upper None means no upper bound.
Fetch = Callable[[str, bool, str | None, str, bool, int], Iterable[Sequence]]


def _check_text(name: str, value: str) -> None:
    # markers may hold a NUL (`marker=name%00` pages from just after `name`, as in Swift)
    if "\x00" in value and name not in ("marker", "end_marker"):
        raise ListingError(400, f"{name} contains a NUL byte")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ListingError(400, f"{name} is not valid UTF-8") from None


def parse_listing_params(query: Mapping[str, str], max_limit: int) -> ListingParams:
    """Validate query parameters; raise ListingError for bad ones."""
    raw_limit = query.get("limit")
    limit = max_limit
    # As Swift: a limit that is not a plain non-negative number is ignored (max_limit applies)
    if raw_limit and raw_limit.isascii() and raw_limit.isdigit():
        limit = int(raw_limit)
        if limit > max_limit:
            raise ListingError(412, f"Maximum limit is {max_limit}")
    texts = {}
    for key in ("marker", "end_marker", "prefix", "delimiter"):
        value = query.get(key) or ""
        _check_text(key, value)
        texts[key] = value
    reverse = is_true(str(query.get("reverse") or ""))
    path = query.get("path")
    if path is not None:
        _check_text("path", path)
        texts["prefix"] = path if not path or path.endswith("/") else path + "/"
        texts["delimiter"] = "/"
        return ListingParams(limit=limit, reverse=reverse, path_mode=True, **texts)
    return ListingParams(limit=limit, reverse=reverse, **texts)


def prefix_successor(prefix: str) -> str | None:
    """The smallest string greater than every string starting with `prefix`.

    None when there is no such string (prefix made only of the highest code point).
    """
    stripped = prefix.rstrip(chr(MAX_CODE_POINT))
    if not stripped:
        return None
    last = ord(stripped[-1]) + 1
    if 0xD800 <= last <= 0xDFFF:  # surrogates cannot appear in valid names: jump over them
        last = 0xE000
    return stripped[:-1] + chr(last)


def list_entries(params: ListingParams, fetch: Fetch) -> list:
    """Rows and Subdirs of one listing page, in listing order, at most params.limit."""
    if params.reverse:
        lower, upper = params.end_marker, params.marker or None
    else:
        lower, upper = params.marker, params.end_marker or None
    lower_inclusive = False
    prefix, delimiter = params.prefix, params.delimiter
    results: list = []
    while len(results) < params.limit:
        if upper is not None and lower and upper <= lower:
            break
        wanted = params.limit - len(results)
        skipped = False
        # Rows are consumed lazily: a subdir stops reading this range at once.
        for row in fetch(lower, lower_inclusive, upper, prefix, params.reverse, wanted):
            name = row[0]
            if params.path_mode:
                skip_to = _path_mode_skip(name, prefix, params.reverse)
                if skip_to is None:
                    results.append(row)
                    continue
                if skip_to == "":
                    continue
                if params.reverse:
                    upper = skip_to
                else:
                    lower, lower_inclusive = skip_to, True
                skipped = True
                break
            if delimiter:
                found = name.find(delimiter, len(prefix))
                if found >= 0:
                    subdir = name[: found + len(delimiter)]
                    if subdir != params.marker:
                        results.append(Subdir(subdir))
                    if params.reverse:
                        upper = subdir
                    else:
                        successor = prefix_successor(subdir)
                        if successor is None:
                            return results
                        lower, lower_inclusive = successor, True
                    skipped = True
                    break
            results.append(row)
        if not skipped:
            break  # every row was taken: either the page is full or the range is exhausted
    return results


def _path_mode_skip(name: str, prefix: str, reverse: bool) -> str | None:
    """For a `path=` listing: None to keep the row, "" to drop just it, else the bound past
    the names deeper than the path (forward: the new inclusive lower bound; reverse: the new
    exclusive upper bound, which keeps the directory marker row itself)."""
    rest = name[len(prefix):]
    if not rest:
        return ""
    found = rest.find("/")
    if found < 0:
        return None
    directory = name[: len(prefix) + found + 1]
    if reverse:
        return directory + "\x00" if name != directory else None
    if name == directory:
        return None  # the marker row; the loop carries on into its children, dropped below
    successor = prefix_successor(directory)
    return successor if successor is not None else ""


def sorted_list_fetch(names_and_rows: Sequence[Sequence]) -> Fetch:
    """A fetch over an in-memory, name-sorted sequence of rows (for tests and tools)."""

    def fetch(lower, lower_inclusive, upper, prefix, reverse, limit):
        selected = []
        for row in names_and_rows:
            name = row[0]
            if lower and (name < lower or (name == lower and not lower_inclusive)):
                continue
            if upper is not None and name >= upper:
                continue
            if not name.startswith(prefix):
                continue
            selected.append(row)
        if reverse:
            selected.reverse()
        return selected[:limit]

    return fetch
