"""The one HTTP client of Brume's service-to-service calls: pooled, keep-alive, streaming.

Built on urllib3 (its connection pools, keep-alive and streaming), with Brume's own rules:

- `HTTPClient(base_url, timeout=, connect_timeout=, retries=, sign=, headers=)`; a request
  names an absolute URL or a path under `base_url` (quoted by the caller: the path goes on the
  request line as given). Connections are kept alive and reused per host and port (at most
  `pool_size` idle per host); a client is shared by every green thread of a process (services
  monkey-patch eventlet, so urllib3's sockets and locks are green).
- Retries are bounded (`retries`) and only where they cannot repeat an effect: a failure to
  connect (nothing was sent) is retried for any request; a connection closed or reset before
  an answer (a kept-alive connection the peer dropped) only for an idempotent request whose
  body can be sent again (bytes or none). A request whose streamed body was read, or a
  non-idempotent request whose body went out, is never sent again. A read timeout is never
  retried (the peer is slow; asking again adds load). Each attempt is signed afresh.
- Request bodies: bytes, a file object or an iterable of byte chunks; sent with the
  `Content-Length` the caller gives, else chunked. Response bodies: read whole (at most
  `max_body` bytes, else an error) or, with `stream=True`, left open and read in chunks
  (`Response.read`, `Response.iter_chunks`), so a multi-GiB body never sits in memory.
- `sign(method, target, headers, body)` (per client or per request) returns the headers to
  send; `target` is the request line's path and query, `body` the bytes (None when streamed).
  `common.backend_auth.BackendAuth.sign_target` and compute's service signatures plug in here.
- ONE error type, `HTTPClientError`: `status` None when no answer came (connect, reset,
  timeout), else the answer's status, `reason` and an excerpt of its body (`expect=` turns an
  unexpected status into this error). The message is one line.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Iterator, Mapping

import urllib3
from urllib3.exceptions import HTTPError as _Urllib3Error
from urllib3.exceptions import NewConnectionError, ProtocolError, ReadTimeoutError
from urllib3.exceptions import TimeoutError as _Urllib3Timeout

CHUNK_SIZE = 64 * 1024
MAX_BODY = 64 * 1024 * 1024
EXCERPT = 1024
IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"})

Signer = Callable[[str, str, dict, "bytes | None"], dict]

# A burst of concurrent requests to one host opens more connections than the pool keeps
# idle; urllib3 warns for each one it then closes. That is the pool working as meant.
logging.getLogger("urllib3.connectionpool").setLevel(logging.ERROR)


class HTTPClientError(Exception):
    """A request failed: no answer (`status` None) or an unexpected status.

    `body` is the start of the answer's body; `detail` the peer's one-line reason (given by
    whoever decodes the peer's error format, else the body's first non-empty line)."""

    def __init__(self, message: str, status: int | None = None, reason: str = "",
                 body: bytes = b"", detail: str | None = None):
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.body = body[:EXCERPT]
        self.detail = _first_line(self.body) if detail is None else detail


def _first_line(body: bytes) -> str:
    for line in body.decode("utf-8", "replace").splitlines():
        if line.strip():
            return line.strip()
    return ""


def _one_line(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)  # urllib3 wraps the socket error it met
    text = str(reason if isinstance(reason, BaseException) else exc) or type(exc).__name__
    return text.splitlines()[0] if text else type(exc).__name__


class Response:
    """An answer: `status`, `reason`, `headers` (case-insensitive), and `body` (bytes) when
    it was read whole; with `stream=True`, `read(n)`/`iter_chunks()` and then `close()`."""

    def __init__(self, raw: urllib3.BaseHTTPResponse, what: str, chunk_size: int = CHUNK_SIZE):
        self._raw = raw
        self._what = what
        self.chunk_size = chunk_size
        self.status: int = raw.status
        self.reason: str = raw.reason or ""
        self.headers = raw.headers
        self.body: bytes | None = None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def length(self) -> int | None:
        value = self.headers.get("Content-Length")
        return int(value) if value and value.isdigit() else None

    @property
    def etag(self) -> str:
        return (self.headers.get("ETag") or "").strip('"')

    def json(self):
        """The body decoded as JSON; HTTPClientError when it is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise HTTPClientError(f"{self._what}: answer is not JSON", self.status,
                                  self.reason, self.body or b"") from None

    def read(self, size: int = CHUNK_SIZE) -> bytes:
        """Up to `size` bytes of a streamed body (b'' at its end)."""
        try:
            return self._raw.read(size)
        except (_Urllib3Error, OSError) as exc:
            raise HTTPClientError(f"{self._what}: body cut off: {_one_line(exc)}") from None

    def iter_chunks(self, size: int | None = None) -> Iterator[bytes]:
        """The streamed body in chunks of at most `size` (default: the request's
        `chunk_size`); closes the response at the end."""
        size = size or self.chunk_size
        try:
            while chunk := self.read(size):
                yield chunk
        finally:
            self.close()

    def __iter__(self) -> Iterator[bytes]:
        return self.iter_chunks()

    def close(self) -> None:
        """Done with it: the connection goes back to the pool if the body was read to its
        end, and is closed otherwise (never drained: it may be gigabytes)."""
        if not self._raw.isclosed():
            self._raw.close()
        self._raw.release_conn()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class HTTPClient:
    """Pooled keep-alive requests to one service (`base_url`) or any absolute URL."""

    def __init__(self, base_url: str = "", *, timeout: float = 30.0,
                 connect_timeout: float | None = None, retries: int = 2,
                 sign: Signer | None = None, headers: Mapping[str, str] | None = None,
                 pool_size: int = 16, max_body: int = MAX_BODY):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.connect_timeout = connect_timeout
        self.retries = retries
        self.sign = sign
        self.headers = dict(headers or {})
        self.max_body = max_body
        self._pools = urllib3.PoolManager(num_pools=64, maxsize=pool_size, block=False,
                                          retries=False, blocksize=CHUNK_SIZE)

    def close(self) -> None:
        """Close every pooled connection."""
        self._pools.clear()

    def url(self, path: str) -> str:
        return path if "://" in path else self.base_url + path

    def request(self, method: str, path: str, *, headers: Mapping[str, str] | None = None,
                body: bytes | Iterable[bytes] | None = None, stream: bool = False,
                expect: Iterable[int] | None = None, idempotent: bool | None = None,
                sign: Signer | None = None, timeout: float | None = None,
                connect_timeout: float | None = None, max_body: int | None = None,
                retries: int | None = None, chunk_size: int = CHUNK_SIZE) -> Response:
        """Send one request; see the module docstring for retries, bodies and errors."""
        url = self.url(path)
        what = f"{method} {url}"
        replayable = body is None or isinstance(body, bytes | bytearray)
        if idempotent is None:
            idempotent = method in IDEMPOTENT
        sign = sign or self.sign
        target = _target(url)
        limit = self.retries if retries is None else retries
        read_timeout = self.timeout if timeout is None else timeout
        wait = urllib3.Timeout(
            connect=connect_timeout or self.connect_timeout or read_timeout, read=read_timeout)
        attempt = 0
        while True:
            send = {**self.headers, **(headers or {})}
            if sign is not None:
                send = sign(method, target, send, (body or b"") if replayable else None)
            try:
                raw = self._pools.urlopen(method, url, body=body, headers=send, redirect=False,
                                          preload_content=False, timeout=wait)
            except NewConnectionError as exc:  # nothing was sent: safe to try again
                error = HTTPClientError(f"{what}: cannot connect: {_one_line(exc)}")
                retry = True
            except ReadTimeoutError:
                raise HTTPClientError(f"{what}: timed out after {read_timeout:g} s") from None
            except _Urllib3Timeout as exc:  # connect timeout: nothing was sent either
                error = HTTPClientError(f"{what}: cannot connect: {_one_line(exc)}")
                retry = True
            except ProtocolError as exc:  # closed or reset before an answer
                error = HTTPClientError(f"{what}: {_one_line(exc)}")
                retry = idempotent and replayable
            except (_Urllib3Error, OSError) as exc:
                raise HTTPClientError(f"{what}: {_one_line(exc)}") from None
            except UnicodeEncodeError:  # a header value HTTP/1.1 cannot carry (not latin-1)
                raise HTTPClientError(f"{what}: a header value is not latin-1 text") from None
            else:
                return self._answer(Response(raw, what, chunk_size=chunk_size), stream,
                                    expect, self.max_body if max_body is None else max_body)
            if not retry or attempt >= limit:
                raise error
            attempt += 1

    def _answer(self, response: Response, stream: bool, expect, max_body: int) -> Response:
        raw, what = response._raw, response._what
        if expect is not None and raw.status not in expect:
            excerpt = _excerpt(response)
            raise HTTPClientError(f"{what}: HTTP {raw.status} {raw.reason or ''}".rstrip(),
                                  raw.status, raw.reason or "", excerpt)
        if stream:
            return response
        try:
            data = raw.read(max_body + 1)
        except (_Urllib3Error, OSError) as exc:
            response.close()
            raise HTTPClientError(f"{what}: body cut off: {_one_line(exc)}", raw.status,
                                  raw.reason or "") from None
        if len(data) > max_body:
            response.close()
            raise HTTPClientError(f"{what}: answer over {max_body} bytes", raw.status,
                                  raw.reason or "")
        response.body = data
        response.close()
        return response


def _excerpt(response: Response) -> bytes:
    """The start of an unexpected answer's body, for its error; the response is closed."""
    try:
        return response.read(EXCERPT)
    except HTTPClientError:
        return b""
    finally:
        response.close()


def _target(url: str) -> str:
    """The request line's target (path and query) of an absolute URL."""
    rest = url.split("://", 1)[-1]
    slash = rest.find("/")
    return rest[slash:] if slash >= 0 else "/"
