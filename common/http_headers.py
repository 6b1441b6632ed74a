"""A faster `http.client.parse_headers` for the servers' request and response heads.

The standard library parses every HTTP head through the `email` package (a feed parser
built for MIME messages), which costs ~35 µs per head: several percent of a small request's
whole cost in every Brume server. `parse_headers` reads the header lines itself and fills
the same `HTTPMessage` (name and value exactly as the email parser would store them), and
hands anything unusual (folded continuation lines, a line without a colon) to the standard
parser so odd input behaves exactly as before. `install()` puts it in place of
`http.client.parse_headers`, which both `http.server` (eventlet's WSGI server) and
`http.client` responses call; `common.wsgi_server` installs it in every server process.
"""
from __future__ import annotations

import email.parser
import http.client

_MAX_LINE = 65536
# Swift's clients may send up to 90 metadata headers and then some (Swift allows 256)
_MAX_HEADERS = 256
_STANDARD = http.client.parse_headers


def parse_headers(fp, _class=http.client.HTTPMessage):
    """Read header lines up to the blank line from `fp`; an `HTTPMessage` like the stdlib's."""
    lines = []
    while True:
        line = fp.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n", b""):
            break
        lines.append(line)
        if len(lines) > _MAX_HEADERS:
            raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")
    message = _class()
    pairs = message._headers
    for line in lines:
        text = line.decode("iso-8859-1")
        name, sep, value = text.partition(":")
        if not sep or text[0] in " \t" or not name or name != name.strip():
            return _email_parse(lines, _class)
        pairs.append((name, value.lstrip(" \t").rstrip("\r\n")))
    return message


def _email_parse(lines: list[bytes], _class):
    text = b"".join(lines).decode("iso-8859-1")
    return email.parser.Parser(_class=_class).parsestr(text)


def install() -> None:
    http.client.parse_headers = parse_headers


def uninstall() -> None:
    http.client.parse_headers = _STANDARD
