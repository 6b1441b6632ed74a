"""Rendering of container and account listings as JSON, XML or plain text, shaped like Swift's.

Choosing the format: a `format` query parameter (json, xml, plain) wins over the `Accept`
header (application/json, application/xml, text/xml, text/plain, */*); nothing acceptable
gives None (the server answers 406). Entries are the output of
`storage.databases.listing.list_entries`:
container rows `(name, created_at, size, content_type, etag)` (an etag
`<md5>; slo_etag=<etag>` is listed as `hash` and `slo_etag`; other `; key=value` parameters
stay in `hash` for the middleware that wrote them, e.g. `symlink`), account rows
`(name, put_timestamp, object_count, bytes_used)`, and `Subdir`s. Account listings also name
each container's storage policy (`storage_policy`).
"""
from __future__ import annotations

import functools
import json
import time
from xml.etree import ElementTree

from common.timestamp import Timestamp
from storage.databases.listing import Subdir

JSON_TYPE = "application/json"
XML_TYPE = "application/xml"
TEXT_XML_TYPE = "text/xml"
PLAIN_TYPE = "text/plain"

FORMAT_TYPES = {"json": JSON_TYPE, "xml": XML_TYPE, "plain": PLAIN_TYPE}
OFFERED = (PLAIN_TYPE, JSON_TYPE, XML_TYPE, TEXT_XML_TYPE)
# Account listings name each container's storage policy; Brume has one, Swift's default name.
DEFAULT_POLICY_NAME = "default"
_XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'


def choose_content_type(format_param: str | None, accept: str | None) -> str | None:
    """The listing's media type, or None when the client accepts none we offer."""
    if format_param:
        return FORMAT_TYPES.get(format_param.strip().lower(), PLAIN_TYPE)
    if not accept or not accept.strip():
        return PLAIN_TYPE
    best: tuple[float, int, str] | None = None
    for position, item in enumerate(accept.split(",")):
        parts = [p.strip() for p in item.split(";")]
        media = parts[0].lower()
        quality = 1.0
        for param in parts[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        for offered in OFFERED:
            if _media_matches(media, offered):
                # higher quality first; then the most specific; then the header's order
                specificity = 0 if media == "*/*" else 1 if media.endswith("/*") else 2
                candidate = (quality, specificity, -position)
                if best is None or candidate > best[:3]:
                    best = (*candidate, offered)
                break
    return best[3] if best else None


def _media_matches(pattern: str, offered: str) -> bool:
    if pattern == "*/*" or pattern == offered:
        return True
    if pattern.endswith("/*"):
        return offered.startswith(pattern[:-1])
    return False


def isoformat(timestamp: str | Timestamp) -> str:
    """`YYYY-MM-DDTHH:MM:SS.ffffff` in UTC, exact to the microsecond."""
    text = timestamp if isinstance(timestamp, str) else timestamp.normal
    if len(text) == 16 and text[10] == "." and text.replace(".", "", 1).isdigit():
        seconds, micros = int(text[:10]), int(text[11:]) * 10  # normal form: the fast path
    else:
        seconds, frac = divmod(Timestamp(text).ticks, 100000)
        micros = frac * 10
    return f"{_date_and_time(seconds)}.{micros:06d}"


@functools.lru_cache(maxsize=4096)
def _date_and_time(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))


def _entry_name(entry) -> str:
    return entry.name if isinstance(entry, Subdir) else entry[0]


def render_plain(entries: list) -> bytes:
    return "".join(_entry_name(e) + "\n" for e in entries).encode("utf-8")


def _container_dicts(entries: list) -> list[dict]:
    result = []
    for entry in entries:
        if isinstance(entry, Subdir):
            result.append({"subdir": entry.name})
            continue
        name, created_at, size, content_type, etag = entry[:5]
        item = {
            "name": name,
            "hash": etag,
            "bytes": int(size),
            "content_type": content_type,
            "last_modified": isoformat(created_at),
        }
        if ";" in etag:  # `slo_etag` becomes its field; other parameters (a symlink's) stay
            md5, *params = (param.strip() for param in etag.split(";"))
            kept = [md5]
            for param in params:
                key, _, value = param.partition("=")
                if key == "slo_etag" and value:
                    item["slo_etag"] = f'"{value.strip(chr(34))}"'
                else:
                    kept.append(param)
            item["hash"] = "; ".join(kept)
        result.append(item)
    return result


def _account_dicts(entries: list) -> list[dict]:
    result = []
    for entry in entries:
        if isinstance(entry, Subdir):
            result.append({"subdir": entry.name})
            continue
        name, put_timestamp, object_count, bytes_used = entry[:4]
        result.append(
            {
                "name": name,
                "count": int(object_count),
                "bytes": int(bytes_used),
                "last_modified": isoformat(put_timestamp),
                "storage_policy": DEFAULT_POLICY_NAME,
            }
        )
    return result


def _to_xml(root_tag, root_name, child_tag, fields, dicts, *, spaced, subdir_names) -> bytes:
    """Swift's XML shapes: container listings on one line, account listings one entry a
    line; a container listing's subdirs carry a <name> child, an account listing's do not."""
    root = ElementTree.Element(root_tag, name=root_name)
    if spaced:
        root.text = "\n"
    for record in dicts:
        if "subdir" in record:
            child = ElementTree.SubElement(root, "subdir", name=record["subdir"])
            if subdir_names:
                ElementTree.SubElement(child, "name").text = record["subdir"]
        else:
            child = ElementTree.SubElement(root, child_tag)
            for field in fields:
                ElementTree.SubElement(child, field).text = str(record[field])
        if spaced:
            child.tail = "\n"
    body = ElementTree.tostring(root, encoding="unicode").encode("utf-8")
    return _XML_DECLARATION + b"\n" + body


def render_container(entries: list, container: str, content_type: str) -> bytes:
    if content_type == JSON_TYPE:
        return json.dumps(_container_dicts(entries)).encode("ascii")
    if content_type in (XML_TYPE, TEXT_XML_TYPE):
        fields = ("name", "hash", "bytes", "content_type", "last_modified")
        return _to_xml(
            "container", container, "object", fields, _container_dicts(entries),
            spaced=False, subdir_names=True,
        )
    return render_plain(entries)


def render_account(entries: list, account: str, content_type: str) -> bytes:
    if content_type == JSON_TYPE:
        return json.dumps(_account_dicts(entries)).encode("ascii")
    if content_type in (XML_TYPE, TEXT_XML_TYPE):
        fields = ("name", "count", "bytes", "last_modified", "storage_policy")
        return _to_xml(
            "account", account, "container", fields, _account_dicts(entries),
            spaced=True, subdir_names=False,
        )
    return render_plain(entries)
