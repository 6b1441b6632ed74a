"""Request framing checks of the runner: refuse any request head whose body length is unclear.

A server that misjudges where a request body ends parses the body's bytes as the next
request on the connection. `framing_problem` (and `body_framing_problem`, its part about the
body length) names what is wrong with a request head (RFC 9112 §6: `chunked` must be the
only and final transfer coding, never beside `Content-Length`; one `Content-Length` of
digits, below `common.decimal_text.BEYOND_ANY_LENGTH`; no obsolete line folding, no
malformed header lines, header names are tokens);
the runner's protocol (`common.wsgi_protocol`) answers such a request with `refusal`'s
one-line 400/501 and `Connection: close` before any application sees it, so nothing is
stored and nothing after the head is ever parsed. The standard library's own refusals (bad
request line, too many headers) get the same one-line text answer instead of an HTML page.

The request target reaches the application as the client sent it: raw UTF-8 bytes in it are
percent-encoded before the request line is split on whitespace (`normalized_request_line`;
latin-1 0x85 and 0xA0, parts of many UTF-8 characters, count as whitespace to `str.split`),
and a target starting with `//` is not collapsed to `/` (the standard library does so
against open redirects of file servers; here `//v1` may be an object name under a remapped
domain).
"""
from __future__ import annotations

import re
from http import HTTPStatus

from common.decimal_text import BEYOND_ANY_LENGTH, capped_decimal

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")
_REASONS = {status.value: status.phrase for status in HTTPStatus}


def is_token(name: str) -> bool:
    """True when `name` is an RFC 9110 token (what a header name must be)."""
    return _TOKEN.match(name) is not None


def framing_problem(headers) -> tuple[int, str] | None:
    """(status, one-line reason) when this request head cannot be framed safely, else None.

    `headers` is the `http.client.HTTPMessage` the server parsed.
    """
    if headers.defects or headers.get_payload():
        return 400, "malformed header line"
    for name, value in headers.items():
        if not is_token(name):
            return 400, "invalid header name"
        if "\r" in value or "\n" in value:
            return 400, "folded header lines are not accepted"
    return body_framing_problem(headers.get_all("Content-Length") or [],
                                headers.get_all("Transfer-Encoding") or [])


def body_framing_problem(lengths: list[str], codings_lines: list[str]) \
        -> tuple[int, str] | None:
    """(status, reason) when a head's `Content-Length` values and `Transfer-Encoding` lines
    leave its body length unclear, else None. When it returns None and `codings_lines` is
    not empty, the body is chunked."""
    if len(lengths) > 1:
        return 400, "more than one Content-Length"
    if lengths:
        length = lengths[0].strip(" \t")
        value = capped_decimal(length, BEYOND_ANY_LENGTH)
        if value is None:
            return 400, "Content-Length must be a non-negative integer"
        if value == BEYOND_ANY_LENGTH:
            return 400, "Content-Length must be below 10**18"
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


def reason_phrase(status: int) -> str:
    """The standard reason phrase of an HTTP status (`Error` for an unknown one)."""
    return _REASONS.get(status, "Error")


def refusal(status: int, reason: str, with_body: bool = True) -> bytes:
    """The whole answer to a refused request head: status, Connection: close, one line."""
    body = (reason.splitlines()[0] + "\n").encode("utf-8", "replace") if with_body else b""
    return (
        f"HTTP/1.1 {status} {reason_phrase(status)}\r\n"
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
