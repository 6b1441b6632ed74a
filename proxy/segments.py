"""What DLO and SLO share: byte ranges over a list of segments, and streaming them in order.

A large object is a list of `Segment`s (path of the segment object, its length and ETag).
`plan_range` turns a client's single `Range` into the (segment, first byte, last byte)
pieces to fetch; `SegmentStream` fetches each piece with a GET sub-request through the
middleware's `get` (as the requesting user, so ACLs apply), checks it is what the
manifest promised and yields it chunk by chunk.
`multipart_response` serves several ranges as multipart/byteranges. Inline segments (an
SLO's `data` entries) are served from the manifest itself.
A first segment that is missing or changed is a 409 before any byte is sent (as in Swift);
a later one cuts the client connection (never a silent short body). `enter_manifest` bounds
the expansion: a manifest cycle or more than `MAX_MANIFEST_DEPTH` nested manifests is
refused with a 409, so no GET recurses without end.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

from proxy.environ_keys import MANIFEST_CHAIN_KEY
from proxy.get_resume import StreamCut
from proxy.responses import RawResponse, close_iter, error
from storage.objects.byteranges import multipart_length, multipart_parts, new_boundary

MAX_MANIFEST_DEPTH = 10  # nested manifests one GET may expand (Swift's max_manifest_depth)
# What Swift answers (its generic 409 page, word for word) when a GET nests deeper.
TOO_DEEP = ("<html><h1>Conflict</h1><p>There was a conflict when trying to complete your "
            "request.</p></html>")


@dataclass(frozen=True)
class Segment:
    """One piece of a large object: bytes of a segment object, or inline bytes.

    `size` is what the piece adds to the large object. A ranged segment (an SLO entry with
    `range`) adds bytes `first .. first + size - 1` of an object `object_size` long; an inline
    one (an SLO `data` entry) has no path and carries its bytes.
    """

    path: str  # "/<container>/<object>" inside the same account; "" for inline bytes
    size: int
    etag: str  # the segment object's ETag without quotes; "" when unknown
    first: int = 0
    object_size: int | None = None  # None: the same as size (the whole object)
    data: bytes | None = None

    @property
    def whole(self) -> bool:
        """Whether the piece is its whole segment object."""
        return self.first == 0 and (self.object_size is None or self.object_size == self.size)

    def etag_part(self) -> str:
        """What this piece adds to the text hashed into the large object's ETag."""
        if self.data is not None:
            return hashlib.md5(self.data, usedforsecurity=False).hexdigest()
        if self.whole:
            return self.etag
        return f"{self.etag}:{self.first}-{self.first + self.size - 1};"


def large_object_etag(segments: list[Segment]) -> str:
    joined = "".join(s.etag_part() for s in segments).encode()
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


class SegmentError(StreamCut):
    """A large object is not what its manifest says (a segment missing or changed, a
    manifest cycle, nesting too deep): the stored data, not the cluster, is at fault.
    `status` is what the client gets when this is found before the first byte."""

    def __init__(self, reason: str, status: int = 409):
        super().__init__(reason)
        self.status = status


def enter_manifest(environ, path: str) -> str | None:
    """Record that this request expands the manifest at `path`; the reason when it must not.

    The chain of manifests being expanded travels in the environ of every sub-request
    (`MANIFEST_CHAIN_KEY`), so a manifest reached again through its own segments is a cycle,
    and more than `MAX_MANIFEST_DEPTH` nested manifests are refused (Swift's limit).
    """
    chain = environ.get(MANIFEST_CHAIN_KEY, ())
    if path in chain:
        return f"manifest cycle: {path} is a segment of itself"
    if len(chain) >= MAX_MANIFEST_DEPTH:
        return TOO_DEEP
    environ[MANIFEST_CHAIN_KEY] = (*chain, path)
    return None


class SegmentStream:
    """app_iter yielding the pieces in order via sub-request GETs; cuts on any mismatch.

    `get(path, headers, query)` runs one GET as the user and returns a RawResponse.

    `as_stored` fetches each segment as stored (`multipart-manifest=get`: a manifest among
    the segments is served as its own bytes, never expanded), which is how a DLO reads its
    segments. Call `start()` before answering: it fetches the first piece, so a broken
    first segment (or a cycle through it) becomes an error status instead of a cut stream.
    """

    def __init__(self, get, account: str, pieces, as_stored: bool = False):
        self.get = get
        self.account = account
        self.pieces = pieces
        self.query = "multipart-manifest=get" if as_stored else ""
        self._first = None
        self._current = None

    def start(self) -> SegmentError | None:
        """Fetch the first piece now; the SegmentError when it cannot be served."""
        if not self.pieces or self.pieces[0][0].data is not None:
            return None
        try:
            self._first = self._fetch(*self.pieces[0])
        except SegmentError as exc:
            return exc
        return None

    def _fetch(self, segment: Segment, start: int, end: int):
        headers = {}
        whole = segment.whole and start == 0 and end == segment.size - 1
        if not whole:
            headers["Range"] = f"bytes={segment.first + start}-{segment.first + end}"
        response = self.get(f"/v1/{self.account}{segment.path}", headers, self.query)
        if response.status == 409:
            # Only a nested large object answers a GET with 409 (cycle, depth, a broken
            # segment); its one-line reason already names the culprit.
            raise SegmentError(_error_line(response) or f"segment {segment.path} is broken")
        if response.status not in (200, 206):
            close_iter(response.app_iter)
            raise SegmentError(f"segment {segment.path} answered {response.status}",
                               503 if response.status >= 500 else 409)
        etag = (response.header("Etag") or "").strip('"')
        if whole and segment.etag and etag and etag != segment.etag:
            close_iter(response.app_iter)
            raise SegmentError(f"segment {segment.path} changed (etag {etag})")
        return response

    def __iter__(self):
        for index, (segment, start, end) in enumerate(self.pieces):
            if segment.data is not None:
                yield segment.data[start:end + 1]
                continue
            if index == 0 and self._first is not None:
                response, self._first = self._first, None
            else:
                response = self._fetch(segment, start, end)
            expected = end - start + 1
            received = 0
            self._current = response.app_iter
            try:
                for chunk in response.app_iter:
                    received += len(chunk)
                    if received > expected:
                        raise SegmentError(
                            f"segment {segment.path} is longer than the manifest says")
                    yield chunk
            finally:
                self._current = None
                close_iter(response.app_iter)
            if received != expected:
                raise SegmentError(f"segment {segment.path} is shorter than the manifest says")

    def close(self) -> None:
        current, self._current = self._current, None
        first, self._first = self._first, None
        if current is not None:
            close_iter(current)
        if first is not None:
            close_iter(first.app_iter)


def stream_response(get, account: str, segments, base: list, etag: str, byte_range,
                    total: int, as_stored: bool = False):
    """200/206 streaming the planned pieces, or the first segment's failure (409/503)."""
    if byte_range is None:
        pieces = plan_range(segments, 0, total - 1) if total else []
        status = 200
    else:
        pieces = plan_range(segments, *byte_range)
        status = 206
    stream = SegmentStream(get, account, pieces, as_stored)
    failure = stream.start()
    if failure is not None:
        return error(failure.status, str(failure))
    return RawResponse(status, body_headers(base, total, etag, byte_range, total), stream)


def multipart_response(get, account: str, segments, base: list, etag: str, ranges,
                       total: int, content_type: str):
    """206 multipart/byteranges of several `ranges` ((start, stop) pairs, stop excluded),
    each streamed piece by piece as it is sent."""
    boundary = new_boundary()

    def read_range(start: int, stop: int):
        stream = SegmentStream(get, account, plan_range(segments, start, stop - 1))
        try:
            yield from stream
        finally:
            stream.close()

    headers = [(k, v) for k, v in base
               if k.lower() not in ("content-length", "etag", "content-range", "accept-ranges",
                                    "content-type")]
    headers += [("Etag", f'"{etag}"'), ("Accept-Ranges", "bytes"),
                ("Content-Type", f"multipart/byteranges;boundary={boundary}"),
                ("Content-Length",
                 str(multipart_length(ranges, boundary, content_type, total)))]
    body = multipart_parts(ranges, boundary, content_type, total, read_range)
    return RawResponse(206, headers, body)


def read_body(app_iter, limit: int) -> bytes:
    """A small body (a listing, a manifest) read whole; ValueError past `limit` bytes."""
    parts = []
    total = 0
    try:
        for chunk in app_iter:
            total += len(chunk)
            if total > limit:
                raise ValueError("body too large")
            parts.append(chunk)
    finally:
        close_iter(app_iter)
    return b"".join(parts)


def _error_line(response) -> str:
    """The one-line reason of a small error answer (a nested refusal names its cause)."""
    body = b"".join(response.app_iter) if isinstance(response.app_iter, list) else b""
    close_iter(response.app_iter)
    return body.decode("utf-8", "replace").strip()[:300]



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
