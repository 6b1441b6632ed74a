"""A streaming reader of `multipart/form-data` bodies (RFC 7578), for form POST uploads.

`MultipartReader(read, boundary)` walks the parts of a body in order: `next_part()` returns
a `Part` (its headers and its field name, file name and content type from them) whose
`read(size)` yields its bytes up to the next boundary, or None after the closing boundary.
Memory stays bounded: bytes are read `chunk_size` at a time and at most one chunk plus a
boundary's length is held; part headers are capped (`MAX_HEADER_BYTES`). A body that breaks
the format raises `FormError` (a 400 for the caller).
"""
from __future__ import annotations

from email.message import Message

MAX_HEADER_BYTES = 8192
MAX_BOUNDARY_LENGTH = 200


class FormError(ValueError):
    """The body is not the multipart/form-data it claims to be."""


def boundary_of(content_type: str) -> str | None:
    """The boundary of a `multipart/form-data; boundary=...` Content-Type, or None."""
    message = Message()
    message["Content-Type"] = content_type
    if message.get_content_type() != "multipart/form-data":
        return None
    boundary = message.get_param("boundary")
    if not isinstance(boundary, str) or not boundary or len(boundary) > MAX_BOUNDARY_LENGTH:
        return None
    if not boundary.isascii():
        return None
    return boundary


class Part:
    """One part of the form: its headers, and its body through `read`."""

    def __init__(self, reader: MultipartReader, headers: dict[str, str]):
        self._reader = reader
        self.headers = headers
        disposition = Message()
        disposition["Content-Disposition"] = headers.get("content-disposition", "")
        self.name = disposition.get_param("name", header="content-disposition")
        self.filename = disposition.get_param("filename", header="content-disposition")
        if not isinstance(self.name, str):
            self.name = None
        if not isinstance(self.filename, str):
            self.filename = None
        self.content_type = headers.get("content-type")

    def read(self, size: int = -1) -> bytes:
        return self._reader._read_body(size)

    def read_text(self, limit: int) -> str:
        """The whole (small) part as text; FormError when longer than `limit` bytes."""
        data = self._reader._read_body(limit + 1)
        while data and len(data) <= limit:
            more = self._reader._read_body(limit + 1 - len(data))
            if not more:
                break
            data += more
        if len(data) > limit:
            raise FormError(f"form field {self.name!r} longer than {limit} bytes")
        return data.decode("utf-8", "replace")


class MultipartReader:
    def __init__(self, read, boundary: str, chunk_size: int = 65536):
        self._read = read
        self._chunk_size = chunk_size
        self._delimiter = b"\r\n--" + boundary.encode("ascii")
        self._buffer = b""
        self._eof = False
        self._in_body = False  # inside a part's body
        self._done = False
        self._started = False

    def _fill(self) -> bool:
        if self._eof:
            return False
        data = self._read(self._chunk_size)
        if not data:
            self._eof = True
            return False
        self._buffer += data
        return True

    def _start(self) -> None:
        # The body begins with --boundary (no CRLF before the first delimiter).
        self._buffer = b"\r\n" + self._buffer
        while len(self._buffer) < len(self._delimiter) + 2:
            if not self._fill():
                raise FormError("body ends before the first boundary")
        if not self._buffer.startswith(self._delimiter):
            raise FormError("body does not start with the boundary")
        self._buffer = self._buffer[len(self._delimiter):]
        self._started = True

    def _after_delimiter(self) -> None:
        """Just past a delimiter: `--` ends the form, CRLF starts a part."""
        while len(self._buffer) < 2:
            if not self._fill():
                raise FormError("body ends inside a boundary")
        if self._buffer.startswith(b"--"):
            self._done = True
            self._buffer = b""
            return
        # Transport padding (spaces, tabs) may follow a boundary.
        while True:
            stripped = self._buffer.lstrip(b" \t")
            if stripped.startswith(b"\r\n"):
                self._buffer = stripped[2:]
                return
            if len(stripped) >= 2 or len(self._buffer) > 1024 or not self._fill():
                raise FormError("malformed boundary line")

    def next_part(self) -> Part | None:
        if not self._started:
            self._start()
            self._after_delimiter()
        elif self._in_body:
            while self._read_body(self._chunk_size):
                pass
        if self._done:
            return None
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end >= 0 or self._buffer.startswith(b"\r\n"):
                break
            if len(self._buffer) > MAX_HEADER_BYTES:
                raise FormError("part headers too long")
            if not self._fill():
                raise FormError("body ends inside part headers")
        if self._buffer.startswith(b"\r\n"):
            raw, self._buffer = b"", self._buffer[2:]
        else:
            raw, self._buffer = self._buffer[:end], self._buffer[end + 4:]
        if len(raw) > MAX_HEADER_BYTES:
            raise FormError("part headers too long")
        headers = {}
        for line in raw.split(b"\r\n"):
            name, colon, value = line.partition(b":")
            if not colon or not name.strip():
                raise FormError("malformed part header")
            headers[name.strip().decode("latin-1").lower()] = value.strip().decode(
                "utf-8", "replace")
        self._in_body = True
        return Part(self, headers)

    def _read_body(self, size: int) -> bytes:
        if not self._in_body:
            return b""
        if size is None or size < 0:
            size = self._chunk_size
        delimiter = self._delimiter
        while True:
            found = self._buffer.find(delimiter)
            if found >= 0:
                if found == 0:
                    self._buffer = self._buffer[len(delimiter):]
                    self._in_body = False
                    self._after_delimiter()
                    return b""
                take = min(found, size)
                data, self._buffer = self._buffer[:take], self._buffer[take:]
                return data
            # Bytes that cannot be the start of a delimiter are safe to hand out.
            safe = len(self._buffer) - len(delimiter) + 1
            if safe > 0:
                take = min(safe, size)
                data, self._buffer = self._buffer[:take], self._buffer[take:]
                return data
            if not self._fill():
                raise FormError("body ends inside a part")
