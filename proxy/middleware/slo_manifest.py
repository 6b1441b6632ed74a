"""The SLO manifest: what a client PUTs, what is stored, and the sysmeta that goes with it.

No IO. A client's manifest is a JSON list (checked strictly, `common.untrusted_json`) whose
entries are either a segment object, `{"path": "[/]<container>/<object>", "etag",
"size_bytes", "range"}` (all but `path` optional; `range` is one HTTP byte range of that
object, such as `0-99`, `100-` or `-50`), or inline bytes, `{"data": "<base64>"}`. The
stored manifest is Swift's `[{"name", "bytes", "hash", "content_type", "last_modified"
[, "range"][, "sub_slo"]} | {"data"}]` (`bytes` and `hash` describe the whole segment
object, `range` is normalised to `first-last`), with the large object's ETag, size and
nesting depth in object sysmeta (`SYSMETA_*`). `raw_entries` turns a stored manifest back
into the client's format (`?multipart-manifest=get&format=raw`), which can be PUT again.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from common.untrusted_json import UntrustedJSONError, parse_untrusted_json
from proxy.object_headers import has_object_sysmeta
from proxy.segments import Segment

SYSMETA_ETAG = "x-object-sysmeta-slo-etag"
SYSMETA_SIZE = "x-object-sysmeta-slo-size"
SYSMETA_DEPTH = "x-object-sysmeta-slo-depth"
PATH_KEYS = frozenset({"path", "etag", "size_bytes", "range"})
MAX_DATA_SEGMENT = 1024 * 1024  # decoded bytes of one inline segment


@dataclass(frozen=True)
class ClientEntry:
    """One entry of a client's manifest: a segment object (`path`) or inline `data`."""

    given: str = ""  # the path as the client wrote it (error messages name it so)
    path: str = ""  # "/<container>/<object>"
    etag: str | None = None
    size: int | None = None
    range_spec: str | None = None
    data: bytes | None = None


def is_slo(response) -> bool:
    return is_slo_headers(response.headers)


def is_slo_headers(headers: list) -> bool:
    """Whether an answer's header list marks a static large object's manifest."""
    for name, value in headers:
        if name[:1] in ("x", "X") and name.lower() == "x-static-large-object":
            return value.strip().lower() in ("true", "1", "yes", "on", "t", "y")
    return False


def without_sysmeta(headers: list) -> list:
    """`headers` without object sysmeta (the same list when it has none)."""
    if not has_object_sysmeta(headers):
        return headers
    return [(k, v) for k, v in headers if k[:17].lower() != "x-object-sysmeta-"]


def sysmeta_of(headers: list) -> dict:
    return {k.lower(): v for k, v in headers if k.lower().startswith("x-object-sysmeta-")}


def parse_put_body(body: bytes, max_segments: int):
    """-> (list of ClientEntry, '') or (None, the reason it is refused)."""
    try:
        entries = parse_untrusted_json(body)
    except UntrustedJSONError as exc:
        return None, f"manifest: {exc}"
    if not isinstance(entries, list) or not entries:
        return None, "manifest must be a non-empty JSON list"
    if len(entries) > max_segments:
        return None, f"too many segments; max {max_segments}"
    parsed = []
    for index, entry in enumerate(entries):
        item, reason = _parse_entry(entry)
        if item is None:
            return None, f"segment {index}: {reason}"
        parsed.append(item)
    if all(item.data is not None for item in parsed):
        return None, "manifest needs at least one segment with a path"
    return parsed, ""


def _parse_entry(entry):
    if not isinstance(entry, dict):
        return None, "not a JSON object"
    if "data" in entry:
        if set(entry) != {"data"}:
            return None, "a data segment has no other key"
        text = entry["data"]
        if not isinstance(text, str):
            return None, "data must be a base64 string"
        try:
            data = base64.b64decode(text.encode("ascii"), validate=True)
        except (binascii.Error, UnicodeEncodeError, ValueError):
            return None, "data must be valid base64"
        if not data:
            return None, "data must not be empty"
        if len(data) > MAX_DATA_SEGMENT:
            return None, f"data segments hold at most {MAX_DATA_SEGMENT} bytes"
        return ClientEntry(data=data), ""
    unknown = set(entry) - PATH_KEYS
    if unknown:
        return None, f"unsupported key {sorted(unknown)[0]!r}"
    given = entry.get("path")
    if not isinstance(given, str):
        return None, "path must be [/]<container>/<object>"
    container, sep, obj = given.removeprefix("/").partition("/")
    if not sep or not container or not obj:
        return None, "path must be [/]<container>/<object>"
    etag = entry.get("etag")
    size = entry.get("size_bytes")
    range_spec = entry.get("range")
    if etag is not None and not isinstance(etag, str):
        return None, "etag must be a string or null"
    if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
        return None, "size_bytes must be a non-negative integer or null"
    if range_spec is not None and not isinstance(range_spec, str):
        return None, "range must be a string"
    return ClientEntry(given=given, path=f"/{container}/{obj}",
                       etag=etag.strip('"') if etag else None, size=size,
                       range_spec=range_spec), ""


def resolve_range(spec: str, length: int):
    """A segment's `range` against its object's length -> ((first, last), '') or (None, why).

    One range of `first-last`, `first-` or `-suffix`; a range covering the whole object is
    (0, length - 1).
    """
    text = spec.strip()
    if text.startswith("bytes="):
        text = text[6:]
    first_text, sep, last_text = text.partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    if not sep or "," in text or not (first_text or last_text) or \
            not (first_text.isdigit() or first_text == "") or \
            not (last_text.isdigit() or last_text == ""):
        return None, f"invalid range {spec[:40]!r}: one range such as 0-99, 100- or -50"
    if first_text == "":
        suffix = int(last_text)
        if suffix == 0 or length == 0:
            return None, f"unsatisfiable range {spec[:40]!r}"
        return (max(length - suffix, 0), length - 1), ""
    first = int(first_text)
    last = int(last_text) if last_text else length - 1
    if last < first:
        return None, f"invalid range {spec[:40]!r}"
    if first >= length:
        return None, f"unsatisfiable range {spec[:40]!r}"
    return (first, min(last, length - 1)), ""


def stored_entry(path: str, object_size: int, etag: str, content_type: str,
                 last_modified: str, byte_range, sub_slo: bool) -> dict:
    """The stored form of one segment object (`byte_range`: (first, last) or None)."""
    entry = {"name": path, "bytes": object_size, "hash": etag,
             "content_type": content_type, "last_modified": last_modified}
    if byte_range is not None and byte_range != (0, object_size - 1):
        entry["range"] = f"{byte_range[0]}-{byte_range[1]}"
    if sub_slo:
        entry["sub_slo"] = True
    return entry


def data_entry(data: bytes) -> dict:
    return {"data": base64.b64encode(data).decode("ascii")}


def segment_of(entry: dict) -> Segment:
    """A stored entry as the Segment it adds (ValueError/KeyError/TypeError if malformed)."""
    if "data" in entry:
        data = base64.b64decode(entry["data"])
        return Segment("", len(data), "", data=data)
    object_size = int(entry["bytes"])
    first, last = 0, object_size - 1
    if entry.get("range"):
        first_text, _, last_text = str(entry["range"]).partition("-")
        first, last = int(first_text), int(last_text)
        if not 0 <= first <= last < object_size:
            raise ValueError("stored range outside its segment")
    return Segment(str(entry["name"]), last - first + 1, str(entry.get("hash", "")), first,
                   object_size)


def load_entries(body: bytes):
    """The stored manifest's entries (a list of dicts), or None when it is not one."""
    try:
        entries = json.loads(body)
    except ValueError:
        return None
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        return None
    return entries


def load_manifest(body: bytes):
    """Parse a stored manifest into segments (or None)."""
    entries = load_entries(body)
    if entries is None:
        return None
    try:
        return [segment_of(entry) for entry in entries]
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None


def raw_entries(entries: list) -> list:
    """A stored manifest in the client's PUT format (`format=raw`)."""
    raw = []
    for entry in entries:
        if "data" in entry:
            raw.append({"data": entry["data"]})
            continue
        item = {"path": entry.get("name"), "etag": entry.get("hash"),
                "size_bytes": entry.get("bytes")}
        if entry.get("range"):
            item["range"] = entry["range"]
        raw.append(item)
    return raw


def depth_of(response) -> int:
    """Nesting depth a sub-SLO's internal HEAD reports (1 for manifests stored without it)."""
    text = response.header(SYSMETA_DEPTH) or ""
    return int(text) if text.isascii() and text.isdigit() else 1
