"""Listings of a versioned container, built from the rows of two container listings.

Pure functions, no IO: the middleware hands in iterables of listing rows (the JSON dicts a
container server answers) and gets rows back to render.

- `plain_rows`: a normal listing of a container that holds pointers; a pointer's row shows
  the ETag and size of the version it stands for (its `hash` carries them as parameters).
- `versions_rows`: `?versions`: every version, merged from the container's own rows (plain
  objects are the `null` version; pointers say which version is the latest) and the hidden
  versions container's rows. Order: by name, then newest version first (reversed as a
  whole with `reverse`). A version is the latest when the container's pointer names it, or
  when it is a delete marker, the newest version, and the container holds nothing by that
  name.
"""
from __future__ import annotations

import heapq
import json
from datetime import UTC, datetime
from urllib.parse import quote
from xml.sax.saxutils import escape, quoteattr

from proxy.middleware.version_names import (
    DELETE_MARKER_CONTENT_TYPE,
    INVERT_FROM,
    NULL_VERSION,
    parse_pointer_etag,
    split_version_object,
    version_object,
    versions_container,
)

FIRST = ""  # sorts before every inverted id of a name
LAST = "~"  # sorts after every inverted id of a name



def plain_rows(rows, account: str, container: str):
    """A container's rows with every pointer shown as the version it stands for, marked
    `version_symlink` with the version's `symlink_path` (as Swift lists them)."""
    for row in rows:
        if "subdir" in row:
            yield row
            continue
        etag, version_id, size = parse_pointer_etag(row.get("hash", ""))
        if version_id is None:
            yield row
            continue
        shown = dict(row)
        shown["hash"] = etag
        if size is not None:
            shown["bytes"] = size
        shown["symlink_path"] = "/v1/" + "/".join(quote(part) for part in (
            account, versions_container(container), version_object(row["name"], version_id)))
        shown["version_symlink"] = True
        yield shown


def _inverted_of_iso(last_modified: str) -> str:
    """The inverted ticks of a row's last_modified (`2026-01-02T03:04:05.123450`)."""
    try:
        moment = datetime.fromisoformat(last_modified).replace(tzinfo=UTC)
        ticks = round(moment.timestamp() * 100000)
    except (TypeError, ValueError):
        ticks = 0
    return f"{INVERT_FROM - ticks:015d}"


def _version_record(name: str, row: dict, version_id: str) -> dict:
    return {"name": name, "bytes": row.get("bytes", 0), "content_type": row.get(
        "content_type", ""), "hash": row.get("hash", ""), "last_modified": row.get(
        "last_modified", ""), "version_id": version_id}


def _main_items(rows, reverse: bool):
    """(name, rank, kind, payload) of the container's own rows."""
    for row in rows:
        if "subdir" in row:
            yield row["subdir"], FIRST, "subdir", row
            continue
        name = row["name"]
        etag, version_id, _size = parse_pointer_etag(row.get("hash", ""))
        state_rank = LAST if reverse else FIRST
        if version_id is not None:
            yield name, state_rank, "pointer", version_id
        else:
            yield name, state_rank, "has-null", None
            yield name, _inverted_of_iso(row.get("last_modified", "")), "null", row


def _version_items(rows):
    for row in rows:
        if "subdir" in row:
            yield row["subdir"], FIRST, "subdir", row
            continue
        split = split_version_object(row["name"])
        if split is None:
            continue
        name, version_id = split
        inverted = row["name"].rsplit("\x01", 1)[1]
        yield name, inverted, "version", (version_id, row)


def versions_rows(main_rows, version_rows, limit: int, reverse: bool = False,
                  newest_version=None):
    """At most `limit` rows of `?versions`, in order.

    `newest_version(name)` -> the id of the newest version of `name` (only asked in a
    reverse listing, for delete markers, where the newest comes last).
    """
    def sort_key(item):
        return item[0], item[1]

    merged = heapq.merge(_main_items(main_rows, reverse), _version_items(version_rows),
                         key=sort_key, reverse=reverse)
    emitted = 0
    current = None
    pointer = None
    has_null = False
    seen_version = False
    last_subdir = None
    for name, _rank, kind, payload in merged:
        if emitted >= limit:
            return
        if kind == "subdir":
            if name != last_subdir:
                last_subdir = name
                emitted += 1
                yield {"subdir": name}
            continue
        if name != current:
            current, pointer, has_null, seen_version = name, None, False, False
        if kind == "pointer":
            pointer = payload
        elif kind == "has-null":
            has_null = True
        elif kind == "null":
            record = _version_record(name, payload, NULL_VERSION)
            record["is_latest"] = True
            emitted += 1
            yield record
        else:
            version_id, row = payload
            record = _version_record(name, row, version_id)
            latest = pointer == version_id
            if not latest and pointer is None and not has_null and \
                    row.get("content_type") == DELETE_MARKER_CONTENT_TYPE:
                if reverse:
                    latest = newest_version is not None and newest_version(name) == version_id
                else:
                    latest = not seen_version
            seen_version = True
            record["is_latest"] = latest
            emitted += 1
            yield record


def render(rows: list[dict], fmt: str, container: str) -> tuple[bytes, str]:
    """(body, content type) of listing rows in `fmt`: json, xml or plain."""
    if fmt == "json":
        return json.dumps(rows).encode("ascii"), "application/json; charset=utf-8"
    if fmt == "xml":
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n',
                 f"<container name={quoteattr(container)}>"]
        for row in rows:
            if "subdir" in row:
                parts.append(f"<subdir name={quoteattr(row['subdir'])}>"
                             f"<name>{escape(row['subdir'])}</name></subdir>")
                continue
            parts.append("<object>")
            for field, value in row.items():
                text = str(value).lower() if isinstance(value, bool) else str(value)
                parts.append(f"<{field}>{escape(text)}</{field}>")
            parts.append("</object>")
        parts.append("</container>")
        return "".join(parts).encode("utf-8"), "application/xml; charset=utf-8"
    body = "".join((row.get("subdir") or row["name"]) + "\n" for row in rows)
    return body.encode("utf-8"), "text/plain; charset=utf-8"
