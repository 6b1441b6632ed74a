"""Live pages without polling storms: one Server-Sent Events stream per open page.

A live page (`PAGES`: instances, images, volumes, admin) is a few GETs on the
public APIs. `GET /api/live/<page>` answers them once, as one snapshot
`{name: {"status": code, "body": JSON}}`; `GET /api/events/<page>` is a `text/event-stream`
on which the dashboard server itself repeats those GETs every `live_seconds` and sends an
`update` event (the whole snapshot) only when the snapshot changed, a comment line as a
keep-alive otherwise, and a `logout` event when the session ended. So a browser holds one
connection per open page, however many resources the page shows, and the APIs see one
round of GETs per open page per interval. A stream ends after `STREAM_SECONDS` (the
browser's EventSource reconnects by itself, with the cookie, so a long-open page keeps
re-checking its session).

`event(name, data)`, `changed(last, snapshot)` and `snapshot_from(answers)` are logic
without IO; the app does the GETs.
"""
from __future__ import annotations

import json
from typing import NamedTuple

STREAM_SECONDS = 300.0


class Source(NamedTuple):
    """One GET of a live page: `path` under the service's endpoint, or, when `root`, at the
    root of its host (the object store proxy's `/recon/cluster`)."""

    service: str
    path: str
    query: str = ""
    root: bool = False


# page → {name in the snapshot: Source}
PAGES = {
    "instances": {"servers": Source("compute", "/servers/detail")},
    "images": {"images": Source("image", "/v2/images")},
    "volumes": {"volumes": Source("volume", "/volumes/detail")},
    "admin": {"hypervisors": Source("compute", "/os-hypervisors/detail"),
              "services": Source("compute", "/os-services"),
              "storage": Source("object-store", "/recon/cluster", root=True)},
}


def event(name: str, data) -> bytes:
    """One SSE event; `data` as one line of JSON (JSON escapes every newline)."""
    return f"event: {name}\ndata: {json.dumps(data, sort_keys=True)}\n\n".encode()


KEEPALIVE = b": keep-alive\n\n"


def fingerprint(snapshot: dict) -> str:
    return json.dumps(snapshot, sort_keys=True)


def changed(last: str | None, snapshot: dict) -> tuple[bool, str]:
    """(whether `snapshot` differs from the one fingerprinted `last`, its fingerprint)."""
    now = fingerprint(snapshot)
    return now != last, now
