"""The body a bulk operation answers with, in the format the client's Accept asks for.

A report is an ordered list of (key, value) pairs (`Number Files Created`, `Response
Status`, ...) plus the errors, each `(path, status line)`. Rendered as Swift's bulk
middleware does on the wire: `Key: value` lines then `Errors:` and `path, status` lines for
text/plain; one JSON object (errors as `[path, status]` pairs) for application/json; and for
application/xml or text/xml an element per key (lower case, `_` for spaces) under `<extract>`
or `<delete>`, errors as `<object><name/><status/></object>`.
"""
from __future__ import annotations

import json
from xml.sax.saxutils import escape

TEXT = "text/plain"
JSON = "application/json"
XML = "application/xml"
FORMATS = (TEXT, JSON, XML, "text/xml")


def pick_format(accept: str | None) -> str:
    """The best of FORMATS for an Accept header (text/plain when none fits)."""
    best, best_q = TEXT, 0.0
    for item in (accept or "").split(","):
        media, *params = [part.strip() for part in item.split(";")]
        quality = 1.0
        for param in params:
            name, _sep, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        media = media.lower()
        for candidate in FORMATS:
            if media in (candidate, "*/*") or (media.endswith("/*")
                                               and candidate.startswith(media[:-1])):
                if quality > best_q:
                    best, best_q = candidate, quality
                break
    return best


def render(fmt: str, root: str, fields: list[tuple[str, object]],
           errors: list[tuple[str, str]]) -> tuple[str, bytes]:
    """(Content-Type, body) of a report; `root` names the XML document (extract/delete)."""
    if fmt == JSON:
        document = dict(fields)
        document["Errors"] = [[path, status] for path, status in errors]
        return JSON, json.dumps(document).encode()
    if fmt in (XML, "text/xml"):
        parts = ['<?xml version="1.0" encoding="UTF-8"?>\n', f"<{root}>"]
        for key, value in fields:
            tag = key.lower().replace(" ", "_")
            parts.append(f"<{tag}>{escape(str(value))}</{tag}>")
        parts.append("<errors>")
        for path, status in errors:
            parts.append(f"<object><name>{escape(path)}</name>"
                         f"<status>{escape(status)}</status></object>")
        parts.append(f"</errors></{root}>")
        return fmt, "".join(parts).encode("utf-8", "surrogateescape")
    lines = [f"{key}: {value}" for key, value in fields]
    lines.append("Errors:")
    lines.extend(f"{path}, {status}" for path, status in errors)
    return TEXT, ("\n".join(lines) + "\n").encode("utf-8", "surrogateescape")
