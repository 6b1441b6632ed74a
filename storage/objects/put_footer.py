"""The footer a proxy sends after a streamed PUT body: the body's MD5 and its block CRCs.

A proxy streaming one body to three object servers would otherwise have each of them compute
the same MD5 (about 1.5 ms of CPU per MiB on this project's machines, three times over). With
`X-Backend-Put-Footer: <body length>` the proxy computes it once, and the request's body is
the object's body followed by a footer:

    md5 of the body (32 lowercase hex digits) | CRC32 of every BLOCK_SIZE block (>I each)

so `Content-Length` is the body length plus `footer_size(body length)`. The object server
still computes the block CRCs of what it receives (it stores them anyway, for readers and the
auditor) and accepts the body only when its table equals the footer's: a byte changed between
the proxy and the object server is refused, as the MD5 would have refused it. The MD5 is the
ETag it stores and checks against a client's `ETag`. Requests without the header are checked
with the object server's own MD5, as before.
"""
from __future__ import annotations

import re

from storage.objects.metadata import BLOCK_SIZE, CRC_ENTRY_SIZE

FOOTER_HEADER = "X-Backend-Put-Footer"
MD5_HEX_SIZE = 32
_MD5_HEX = re.compile(rb"[0-9a-f]{32}\Z")


class FooterError(ValueError):
    """The footer or its header does not match the request (a one-line reason)."""


def footer_size(body_length: int) -> int:
    """Bytes of the footer of a body of `body_length` bytes."""
    blocks = -(-body_length // BLOCK_SIZE)
    return MD5_HEX_SIZE + CRC_ENTRY_SIZE * blocks


def make_footer(md5_hex: str, crc_table: bytes) -> bytes:
    return md5_hex.encode("ascii") + crc_table


def body_length_of(header_value: str, content_length: int | None) -> int:
    """The body length a footer header declares, checked against the request's length."""
    value = header_value.strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 20:
        raise FooterError(f"{FOOTER_HEADER} must be the body's length in bytes")
    body_length = int(value)
    if content_length is None or content_length != body_length + footer_size(body_length):
        raise FooterError(f"Content-Length must be the body's length plus its footer's "
                          f"with {FOOTER_HEADER}")
    return body_length


def split_footer(footer: bytes, crc_table: bytes) -> str:
    """The MD5 of a received footer, when its CRC table equals `crc_table` (the CRCs of
    what was received); FooterError otherwise."""
    md5_hex = footer[:MD5_HEX_SIZE]
    if not _MD5_HEX.match(md5_hex):
        raise FooterError("the PUT footer does not start with an MD5 in hex")
    if footer[MD5_HEX_SIZE:] != crc_table:
        raise FooterError("the body does not match the block CRCs of its PUT footer")
    return md5_hex.decode("ascii")
