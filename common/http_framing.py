"""Request framing checks of the runner: refuse any request head whose body length is unclear.

Eventlet's server reads a body as chunked only when `Transfer-Encoding` is exactly
`chunked`; anything else (`gzip, chunked`, two `Transfer-Encoding` lines, a folded or
malformed header line that the header parser drops) makes it read *no* body, so the body's
bytes would be parsed as the next request on the connection. `framing_problem` names what
is wrong with a request head (RFC 9112 §6: `chunked` must be the only and final transfer
coding, never beside `Content-Length`; one `Content-Length` of digits; no obsolete line
folding, no malformed header lines) and `FramingProtocol`, the runner's eventlet protocol,
answers such a request with a one-line 400/501 and `Connection: close` before any
application sees it, so nothing is stored and nothing after the head is ever parsed. Its
`send_error` also answers the standard library's own refusals (bad request line, too many
headers) with a one-line text body instead of an HTML page.

The request target reaches the application as the client sent it: raw UTF-8 bytes in it are
percent-encoded before the standard library splits the line on whitespace (latin-1 0x85 and
0xA0, parts of many UTF-8 characters, count as whitespace to `str.split`), and a target
starting with `//` is not collapsed to `/` (the standard library does so against open
redirects of file servers; here `//v1` may be an object name under a remapped domain).
"""
from __future__ import annotations

import re
from http import HTTPStatus

from common.green import eventlet

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_REASONS = {status.value: status.phrase for status in HTTPStatus}


def framing_problem(headers) -> tuple[int, str] | None:
    """(status, one-line reason) when this request head cannot be framed safely, else None.

    `headers` is the `http.client.HTTPMessage` the server parsed.
    """
    if headers.defects or headers.get_payload():
        return 400, "malformed header line"
    for name, value in headers.items():
        if not _TOKEN.match(name):
            return 400, "invalid header name"
        if "\r" in value or "\n" in value:
            return 400, "folded header lines are not accepted"
    lengths = headers.get_all("Content-Length") or []
    codings_lines = headers.get_all("Transfer-Encoding") or []
    if len(lengths) > 1:
        return 400, "more than one Content-Length"
    if lengths:
        length = lengths[0].strip(" \t")
        if not (length.isascii() and length.isdigit()):
            return 400, "Content-Length must be a non-negative integer"
    if not codings_lines:
        return None
    if lengths:
        return 400, "Transfer-Encoding and Content-Length together"
    codings = [c.strip(" \t").lower() for line in codings_lines for c in line.split(",")]
    codings = [c for c in codings if c]
    if not codings or codings[-1] != "chunked":
        return 400, "chunked must be the final Transfer-Encoding"
    if codings != ["chunked"]:
        return 501, "only Transfer-Encoding: chunked is supported"
    return None


def refusal(status: int, reason: str, with_body: bool = True) -> bytes:
    """The whole answer to a refused request head: status, Connection: close, one line."""
    body = (reason.splitlines()[0] + "\n").encode("utf-8", "replace") if with_body else b""
    return (
        f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\n"
        "Content-Type: text/plain; charset=UTF-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode("latin-1") + body


# Bytes that Python's request-line parser (str.split on the latin-1 text) takes for
# whitespace although they are valid in a raw UTF-8 path: NEL and NBSP are UTF-8
# continuation bytes, the others control characters.
_SPLIT_BYTES = re.compile(rb"[\x09-\x0d\x1c-\x1f\x85\xa0]")


def normalized_request_line(line: bytes) -> bytes:
    """The request line with its target made safe for the standard library's parser.

    A target may carry raw UTF-8 (clients send names unquoted) and even spaces (Swift
    accepts `GET /a b HTTP/1.1`): such bytes are percent-encoded, which the WSGI layer
    decodes again into the same PATH_INFO. Lines of another shape are returned as they are.
    """
    words = [word for word in line.rstrip(b"\r\n").split(b" ") if word]
    if len(words) < 3 or not words[-1].startswith(b"HTTP/"):
        return line
    target = b"%20".join(words[1:-1])
    target = _SPLIT_BYTES.sub(lambda match: b"%%%02X" % match.group()[0], target)
    return b" ".join((words[0], target, words[-1])) + b"\r\n"


def request_target(line: bytes) -> str | None:
    """The target of a normalized request line, as the latin-1 text the parser sees."""
    words = line.rstrip(b"\r\n").split(b" ")
    return words[1].decode("latin-1") if len(words) == 3 else None


class FramingProtocol(eventlet.wsgi.HttpProtocol):
    """Eventlet's HTTP protocol, refusing request heads that `framing_problem` rejects.

    Request lines are normalized first (`normalized_request_line`), and a target starting
    with `//` is kept as sent: the standard library folds it to `/`, which would turn the
    path `//v1/a` (no API version) into the account `/v1/a`.
    """

    def parse_request(self):
        self.raw_requestline = normalized_request_line(self.raw_requestline)
        target = request_target(self.raw_requestline)
        if not super().parse_request():
            self.close_connection = True
            return False
        if target is not None and target.startswith("//"):
            self.path = target
        problem = framing_problem(self.headers)
        if problem is None:
            return True
        self._refuse(*problem)
        return False

    def get_environ(self):
        """eventlet fills CONTENT_TYPE with `text/plain` when the client sent none; a request
        without a Content-Type has no CONTENT_TYPE here (a POST must not retype an object)."""
        environ = super().get_environ()
        if self.headers.get("content-type") is None:
            environ.pop("CONTENT_TYPE", None)
        return environ

    def send_error(self, code, message=None, explain=None):
        self._refuse(int(code), message or _REASONS.get(int(code), "Bad Request"))

    def _refuse(self, status: int, reason: str) -> None:
        self.close_connection = True
        self.wfile.write(refusal(status, reason, with_body=self.command != "HEAD"))
        self.wfile.flush()
