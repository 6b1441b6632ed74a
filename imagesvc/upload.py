"""Writing an image's bytes into the object store while checking and hashing them.

`ImageDataWriter.write` reads the request body (or any stream) in 1 MiB chunks, shows every
chunk to the format inspector, judges the head against the declared disk format before
storing anything (and the whole image once stored), and computes size, MD5 and SHA-512 on
the way. Small images become one object; big ones (or bodies of unknown length that
outgrow a small buffer) become a static large object whose segments are uploaded in parallel:
segment N+1 is read from the body while segments N, N-1, ... still drain to the store, with at
most `upload_concurrency` segments in flight, each fed through a bounded queue, so memory is
about concurrency x queue_chunks x 1 MiB (`CHUNK_SIZE`; 32 MiB with the defaults) whatever the
segment size. Any failure deletes what
was written and raises `UploadRejected`; the caller puts the image back to `queued`.
"""
from __future__ import annotations

import base64
import binascii
import logging
import queue
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from common.http_client import HTTPClientError
from common.image_formats.format_inspect import HEAD_SIZE, FormatInspector
from common.object_store import ObjectStore
from imagesvc.digests import StreamDigests

CHUNK_SIZE = 1024 * 1024
SMALL_BODY_BUFFER = 1024 * 1024
PUT_POLL_SECONDS = 0.5

log = logging.getLogger("brume.imagesvc.upload")


class UploadRejected(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class UploadResult:
    size: int
    checksum: str
    os_hash_value: str
    virtual_size: int | None
    location: dict


def parse_content_md5(value: str | None) -> str | None:
    """A Content-MD5 header (base64 per RFC 1864, or hex as Glance sends) -> hex digest."""
    if not value:
        return None
    value = value.strip()
    if len(value) == 32 and all(ch in "0123456789abcdefABCDEF" for ch in value):
        return value.lower()
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != 16:
        raise UploadRejected(400, "Content-MD5 must be an MD5 digest (base64 or hex)")
    return raw.hex()


class BodyReader:
    """Reads a body in chunks, enforcing its declared length and the size cap, and shows each
    chunk, in order, to `observer` (the format inspector)."""

    def __init__(self, source, content_length: int | None, max_size: int,
                 observer=lambda chunk: None):
        self.source = source
        self.remaining = content_length
        self.max_size = max_size
        self.observer = observer
        self.total = 0

    def read(self) -> bytes:
        want = CHUNK_SIZE if self.remaining is None else min(CHUNK_SIZE, self.remaining)
        if want == 0:
            return b""
        try:
            chunk = self.source.read(want)
        except (OSError, ValueError) as exc:
            raise UploadRejected(400, f"reading the image data failed: {exc}") from None
        if not chunk and self.remaining:
            raise UploadRejected(400, "the image data ended before its declared length")
        self.total += len(chunk)
        if self.remaining is not None:
            self.remaining -= len(chunk)
        if self.total > self.max_size:
            raise UploadRejected(413, f"image larger than the limit of {self.max_size} bytes")
        self.observer(chunk)
        return chunk


class _Abort(Exception):
    """Raised inside a segment's body iterator to cut its PUT short."""


class SegmentUpload(threading.Thread):
    """PUTs one segment, fed chunk by chunk through a bounded queue."""

    def __init__(self, store: ObjectStore, container: str, name: str, depth: int,
                 slot: threading.Semaphore, length: int | None):
        super().__init__(daemon=True)
        self.store = store
        self.container = container
        self.name = name
        self.length = length  # known when the whole body's length is: no chunked encoding
        self.slot = slot
        self.chunks: queue.Queue = queue.Queue(maxsize=depth)
        self.size = 0
        self.etag: str | None = None
        self.error: Exception | None = None
        self.done = threading.Event()

    def _body(self) -> Iterator[bytes]:
        while True:
            item = self.chunks.get()
            if item is None:
                return
            if item is _Abort:
                raise _Abort()
            yield item

    def run(self) -> None:
        try:
            self.etag = self.store.put_object(self.container, self.name, self._body(),
                                              length=self.length)
        except _Abort:
            self.error = HTTPClientError("segment upload aborted")
        except Exception as exc:  # recorded and reported by the writer
            self.error = exc
        finally:
            self.done.set()
            self.slot.release()

    def feed(self, item) -> None:
        """Queue a chunk (or the end/abort marker), giving up if the upload already ended."""
        if item is not None and item is not _Abort:
            self.size += len(item)
        while True:
            if self.done.is_set():
                if item is _Abort:
                    return
                raise self.error or HTTPClientError(f"segment {self.name} ended early")
            try:
                self.chunks.put(item, timeout=PUT_POLL_SECONDS)
                return
            except queue.Full:
                continue


class ImageDataWriter:
    def __init__(self, store: ObjectStore, container: str, segment_container: str,
                 slo_threshold: int, segment_size: int, concurrency: int, queue_chunks: int,
                 max_size: int):
        self.store = store
        self.container = container
        self.segment_container = segment_container
        self.slo_threshold = slo_threshold
        self.segment_size = segment_size
        self.concurrency = concurrency
        self.queue_chunks = queue_chunks
        self.max_size = max_size

    def pending_location(self, image_id: str) -> dict:
        """Where an upload that is about to start may write (recorded before it starts, so
        a crashed service can clean up after itself)."""
        return {"container": self.container, "object": image_id,
                "segment_container": self.segment_container,
                "segment_prefix": f"{image_id}/{uuid.uuid4().hex[:12]}/", "pending": True}

    def write(self, image_id: str, source, content_length: int | None,
              inspector: FormatInspector, expected_md5: str | None = None,
              pending: dict | None = None) -> UploadResult:
        if content_length is not None and content_length > self.max_size:
            raise UploadRejected(413, f"image larger than the limit of {self.max_size} bytes")
        reader = BodyReader(source, content_length, self.max_size, inspector.feed)
        head_chunks, ended = self._read_ahead(reader, HEAD_SIZE)
        head = b"".join(head_chunks)
        reason = inspector.check_head(head)
        if reason:
            raise UploadRejected(400, reason)
        small = content_length is not None and content_length <= self.slo_threshold
        if content_length is None and not ended:
            more, ended = self._read_ahead(reader, SMALL_BODY_BUFFER - len(head))
            head_chunks.extend(more)
        if ended:
            small = True
            content_length = sum(len(chunk) for chunk in head_chunks)
        digests = StreamDigests()
        self.store.ensure_container(self.container)
        if small:
            location = self._write_single(image_id, reader, head_chunks, content_length, digests)
        else:
            self.store.ensure_container(self.segment_container)
            prefix = (pending or self.pending_location(image_id))["segment_prefix"]
            location = self._write_segments(image_id, prefix, reader, head_chunks, digests,
                                            content_length)
        try:
            self._verify(inspector, head, digests, expected_md5)
            if "segment_prefix" in location:
                self._put_manifest(location)
        except BaseException:
            self.delete(location)
            raise
        return UploadResult(
            size=digests.size,
            checksum=digests.md5_hex,
            os_hash_value=digests.sha512_hex,
            virtual_size=inspector.virtual_size,
            location=location,
        )

    @staticmethod
    def _read_ahead(reader: BodyReader, amount: int) -> tuple[list[bytes], bool]:
        chunks, got = [], 0
        while got < amount:
            chunk = reader.read()
            if not chunk:
                return chunks, True
            chunks.append(chunk)
            got += len(chunk)
        return chunks, False

    @staticmethod
    def _verify(inspector, head: bytes, digests: StreamDigests, expected_md5: str | None) -> None:
        reason = inspector.check_end(head, digests.tail, digests.size)
        if reason:
            raise UploadRejected(400, reason)
        if expected_md5 and expected_md5 != digests.md5_hex:
            raise UploadRejected(
                400, f"Content-MD5 {expected_md5} does not match the data's MD5 "
                f"{digests.md5_hex}"
            )

    def _write_single(self, image_id, reader, head_chunks, length, digests) -> dict:
        location = {"container": self.container, "object": image_id}

        def body() -> Iterator[bytes]:
            for chunk in head_chunks:
                digests.update(chunk)
                yield chunk
            head_chunks.clear()
            while chunk := reader.read():
                digests.update(chunk)
                yield chunk

        try:
            self.store.put_object(self.container, image_id, body(), length=length)
        except HTTPClientError as exc:
            self.delete(location)
            raise UploadRejected(503, f"storing the image data failed: {exc}") from None
        except BaseException:
            self.delete(location)
            raise
        return location

    def _write_segments(self, image_id, prefix, reader, head_chunks, digests,
                        total: int | None) -> dict:
        slot = threading.BoundedSemaphore(self.concurrency)
        segments: list[SegmentUpload] = []
        current: SegmentUpload | None = None
        location = {"container": self.container, "object": image_id,
                    "segment_container": self.segment_container,
                    "segment_prefix": prefix, "segment_count": 0}

        def chunks() -> Iterator[bytes]:
            yield from head_chunks
            head_chunks.clear()
            while chunk := reader.read():
                yield chunk

        try:
            for chunk in chunks():
                digests.update(chunk)
                view = memoryview(chunk)
                while view:
                    if current is None:
                        slot.acquire()
                        self._raise_failed(segments)
                        length = None
                        if total is not None:
                            start = len(segments) * self.segment_size
                            length = min(self.segment_size, total - start)
                        current = SegmentUpload(self.store, self.segment_container,
                                                f"{prefix}{len(segments):08d}",
                                                self.queue_chunks, slot, length)
                        segments.append(current)
                        location["segment_count"] = len(segments)
                        current.start()
                    room = self.segment_size - current.size
                    piece, view = view[:room], view[room:]
                    current.feed(piece.tobytes() if len(piece) < len(chunk) else chunk)
                    if current.size == self.segment_size:
                        current.feed(None)
                        current = None
            if current is not None:
                current.feed(None)
            if not segments:
                raise UploadRejected(400, "no image data")
            for segment in segments:
                segment.done.wait()
            self._raise_failed(segments)
        except BaseException:
            for segment in segments:
                segment.feed(_Abort)
            for segment in segments:
                segment.done.wait()
            self.delete(location)
            raise
        location["segments"] = [
            {"path": f"/{self.segment_container}/{segment.name}", "etag": segment.etag,
             "size_bytes": segment.size}
            for segment in segments
        ]
        return location

    @staticmethod
    def _raise_failed(segments: list[SegmentUpload]) -> None:
        for segment in segments:
            if segment.done.is_set() and segment.error is not None:
                raise UploadRejected(503, f"storing the image data failed: {segment.error}")

    def _put_manifest(self, location: dict) -> None:
        manifest = location.pop("segments")
        try:
            self.store.put_manifest(self.container, location["object"], manifest)
        except HTTPClientError as exc:
            raise UploadRejected(503, f"storing the image manifest failed: {exc}") from None

    def delete(self, location: dict | None) -> bool:
        """Remove an image's object and segments; True when everything is gone.

        A pending location (an upload that never finished) has no segment count: its
        segments are found by listing the segment container under its prefix.
        """
        if not location:
            return True
        gone = self.store.delete_object(location["container"], location["object"])
        if location.get("pending"):
            names = self.store.list_objects(location["segment_container"],
                                            location["segment_prefix"])
        else:
            names = [f"{location['segment_prefix']}{index:08d}"
                     for index in range(location.get("segment_count", 0))]
        for name in names:
            gone = self.store.delete_object(location["segment_container"], name) and gone
        return gone
