"""`GET /info`: the cluster's capabilities and limits as JSON, shaped like Swift's.

python-swiftclient reads it (`swift capabilities`, and `swift upload --segment-size` picks
SLO over DLO when "slo" is listed). The app lists `swift` (its limits); every middleware of
the pipeline adds its own entry (`slo`, `dlo`, `tempauth`, ...) through its `capabilities`
(`proxy.pipeline`), so /info shows what this proxy's pipeline really does (the `cors` filter
adds `strict_cors_mode` to `swift`: Swift's suite tests CORS only when it is listed).
Anonymous access is allowed.
"""
from __future__ import annotations

import json

from common import constraints
from proxy.responses import RawResponse, error

VERSION = "2.38.0-brume"


class Capabilities:
    """{name: settings} shown by /info; the JSON body is built once, on first use."""

    def __init__(self):
        swift = {"version": VERSION, "policies": [
            {"name": "default", "default": True}]}
        swift.update(constraints.LIMITS)
        swift["max_object_name_length"] = constraints.MAX_OBJECT_NAME_LENGTH
        self._entries: dict[str, dict] = {"swift": swift}
        self._body: bytes | None = None

    def register(self, name: str, settings: dict) -> None:
        self._entries[name] = {**self._entries.get(name, {}), **settings}
        self._body = None

    def names(self) -> list[str]:
        return sorted(self._entries)

    def body(self) -> bytes:
        if self._body is None:
            self._body = json.dumps(self._entries, sort_keys=True).encode()
        return self._body


def handle_info(capabilities: Capabilities, environ):
    method = environ.get("REQUEST_METHOD")
    if method not in ("GET", "HEAD"):
        return error(405, "use GET", [("Allow", "GET, HEAD")])
    body = capabilities.body()
    return RawResponse(200, [("Content-Type", "application/json; charset=utf-8"),
                             ("Content-Length", str(len(body)))], [body])
