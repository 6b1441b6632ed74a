"""The fast header parser gives the same HTTPMessage as the standard library's."""
from __future__ import annotations

import http.client
import io

import pytest

from common.http_headers import _STANDARD, parse_headers

HEADS = [
    b"Host: a\r\nContent-Length: 10\r\nX-Object-Meta-Color:  blue \r\n\r\nbody",
    b"X-Empty:\r\nX-Tab:\tv\r\nx-lower: MiXeD\r\nX-Dup: 1\r\nX-Dup: 2\r\n\r\n",
    b"X-Latin: caf\xe9\r\nX-Colon: a:b:c\r\n\n",
    b"X-Folded: first\r\n  second\r\nNext: n\r\n\r\n",
    b"no colon here\r\nX-After: 1\r\n\r\n",
    b" Leading: space\r\n\r\n",
    b"Trailing : space\r\n\r\n",
    b"",
    b"\r\n",
    b"Only: header-then-eof\r\n",
]


@pytest.mark.parametrize("head", HEADS)
def test_same_as_the_standard_parser(head):
    ours = parse_headers(io.BytesIO(head))
    theirs = _STANDARD(io.BytesIO(head))
    assert ours.items() == theirs.items()
    assert type(ours) is type(theirs)
    for name in ("host", "content-length", "x-dup", "X-FOLDED", "missing"):
        assert ours.get(name) == theirs.get(name)
        assert ours.get_all(name) == theirs.get_all(name)
    assert ours.get_content_type() == theirs.get_content_type()


def test_stops_at_the_blank_line_and_limits():
    stream = io.BytesIO(b"A: 1\r\n\r\nrest")
    parse_headers(stream)
    assert stream.read() == b"rest"
    with pytest.raises(http.client.LineTooLong):
        parse_headers(io.BytesIO(b"A: " + b"x" * 70000 + b"\r\n\r\n"))
    with pytest.raises(http.client.HTTPException):
        parse_headers(io.BytesIO(b"".join(b"H%d: v\r\n" % i for i in range(257)) + b"\r\n"))
    many = parse_headers(io.BytesIO(b"".join(b"H%d: v\r\n" % i for i in range(200)) + b"\r\n"))
    assert len(many) == 200  # Swift's clients send 90 metadata headers and more
