"""What DLO and SLO share: byte ranges over a list of segments, and streaming them in order.

A large object is a list of `Segment`s (path of the segment object, its length and ETag).
`plan_range` turns a client's single `Range` into the (segment, first byte, last byte)
pieces to fetch; `SegmentStream` fetches each piece with an internal GET (as the requesting
user, so ACLs apply), checks it is what the manifest promised and yields it chunk by chunk.
A segment that is missing or changed cuts the client connection (never a silent short body).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from proxy.get_resume import StreamCut


@dataclass(frozen=True)
class Segment:
    path: str  # "/<container>/<object>" inside the same account
    size: int
    etag: str  # without quotes; "" when unknown


def large_object_etag(segments: list[Segment]) -> str:
    joined = "".join(s.etag for s in segments).encode()
    return hashlib.md5(joined, usedforsecurity=False).hexdigest()


def parse_range(header: str | None, length: int):
    """-> None (no usable single range: send everything), 'unsatisfiable', or (first, last)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    spec = header[6:].strip()
    first_text, sep, last_text = spec.partition("-")
    if not sep:
        return None
    try:
        if first_text == "":
            suffix = int(last_text)
            if suffix <= 0:
                return "unsatisfiable"
            return (max(length - suffix, 0), length - 1) if length else "unsatisfiable"
        first = int(first_text)
        last = int(last_text) if last_text else length - 1
    except ValueError:
        return None
    if first >= length:
        return "unsatisfiable"
    if last < first:
        return None
    return first, min(last, length - 1)


def plan_range(segments: list[Segment], first: int, last: int):
    """Pieces (segment, start_in_segment, end_in_segment) covering bytes first..last."""
    pieces = []
    offset = 0
    for segment in segments:
        seg_first = offset
        seg_last = offset + segment.size - 1
        offset += segment.size
        if segment.size == 0 or seg_last < first:
            continue
        if seg_first > last:
            break
        pieces.append((segment, max(first, seg_first) - seg_first,
                       min(last, seg_last) - seg_first))
    return pieces


class SegmentStream:
    """app_iter yielding the pieces in order via internal GETs; cuts on any mismatch."""

    def __init__(self, app, environ, account: str, pieces):
        self.app = app
        self.environ = environ
        self.account = account
        self.pieces = pieces
        self._current = None

    def __iter__(self):
        for segment, start, end in self.pieces:
            headers = {}
            whole = start == 0 and end == segment.size - 1
            if not whole:
                headers["Range"] = f"bytes={start}-{end}"
            response = self.app.subrequest(self.environ, "GET",
                                           f"/v1/{self.account}{segment.path}", headers)
            if response.status not in (200, 206):
                raise StreamCut(f"segment {segment.path} answered {response.status}")
            etag = (response.header("Etag") or "").strip('"')
            if whole and segment.etag and etag and etag != segment.etag:
                _close(response.app_iter)
                raise StreamCut(f"segment {segment.path} changed (etag {etag})")
            expected = end - start + 1
            received = 0
            self._current = response.app_iter
            try:
                for chunk in response.app_iter:
                    received += len(chunk)
                    if received > expected:
                        raise StreamCut(f"segment {segment.path} is longer than the manifest says")
                    yield chunk
            finally:
                self._current = None
                _close(response.app_iter)
            if received != expected:
                raise StreamCut(f"segment {segment.path} is shorter than the manifest says")

    def close(self) -> None:
        current, self._current = self._current, None
        if current is not None:
            _close(current)


def _close(app_iter) -> None:
    close = getattr(app_iter, "close", None)
    if close is not None:
        close()


def body_headers(status_headers: list, length: int, etag: str, byte_range, total: int):
    """Content-Length/Etag/Content-Range/Accept-Ranges for a large object answer."""
    out = [(k, v) for k, v in status_headers
           if k.lower() not in ("content-length", "etag", "content-range", "accept-ranges")]
    out.append(("Etag", f'"{etag}"'))
    out.append(("Accept-Ranges", "bytes"))
    if byte_range is None:
        out.append(("Content-Length", str(length)))
    else:
        first, last = byte_range
        out.append(("Content-Length", str(last - first + 1)))
        out.append(("Content-Range", f"bytes {first}-{last}/{total}"))
    return out
