"""The SLO manifest: what a client PUTs, what is stored, and the sysmeta that goes with it.

No IO. A client's manifest is a JSON list of `{"path", "etag", "size_bytes"}` (checked
strictly, `common.untrusted_json`); the stored one is Swift's
`[{"name", "bytes", "hash", "content_type", "last_modified"}]`, with the large object's ETag,
size and nesting depth in object sysmeta (`SYSMETA_*`).
"""
from __future__ import annotations

import json

from common.untrusted_json import UntrustedJSONError, parse_untrusted_json
from proxy.segments import Segment

SYSMETA_ETAG = "x-object-sysmeta-slo-etag"
SYSMETA_SIZE = "x-object-sysmeta-slo-size"
SYSMETA_DEPTH = "x-object-sysmeta-slo-depth"  # manifests nested in it, itself included


def is_slo(response) -> bool:
    return (response.header("X-Static-Large-Object") or "").strip().lower() in (
        "true", "1", "yes", "on", "t", "y")


def without_sysmeta(headers: list) -> list:
    """`headers` without object sysmeta (the same list when it has none)."""
    if not any(k[:17].lower() == "x-object-sysmeta-" for k, _ in headers):
        return headers
    return [(k, v) for k, v in headers if k[:17].lower() != "x-object-sysmeta-"]


def sysmeta_of(headers: list) -> dict:
    return {k.lower(): v for k, v in headers if k.lower().startswith("x-object-sysmeta-")}


def parse_put_body(body: bytes, max_segments: int):
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
        if not isinstance(entry, dict):
            return None, f"segment {index}: not a JSON object"
        unknown = set(entry) - {"path", "etag", "size_bytes"}
        if unknown:
            return None, f"segment {index}: unsupported key {sorted(unknown)[0]!r}"
        path = entry.get("path")
        if not isinstance(path, str) or path.count("/") < 2 or not path.startswith("/"):
            return None, f"segment {index}: path must be /<container>/<object>"
        container, _, obj = path[1:].partition("/")
        if not container or not obj:
            return None, f"segment {index}: path must be /<container>/<object>"
        etag = entry.get("etag")
        size = entry.get("size_bytes")
        if etag is not None and not isinstance(etag, str):
            return None, f"segment {index}: etag must be a string or null"
        if size is not None and (not isinstance(size, int) or isinstance(size, bool) or size < 0):
            return None, f"segment {index}: size_bytes must be a non-negative integer or null"
        parsed.append((path, etag.strip('"') if etag else None, size))
    return parsed, ""


def load_manifest(body: bytes):
    """Parse a stored manifest into segments (or None)."""
    try:
        entries = json.loads(body)
        return [Segment(e["name"], int(e["bytes"]), str(e.get("hash", ""))) for e in entries]
    except (ValueError, KeyError, TypeError):
        return None


def depth_of(response) -> int:
    """Nesting depth a sub-SLO's internal HEAD reports (1 for manifests stored without it)."""
    text = response.header(SYSMETA_DEPTH) or ""
    return int(text) if text.isascii() and text.isdigit() else 1
