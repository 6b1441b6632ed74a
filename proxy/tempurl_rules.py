"""What a temporary URL's query says and what it allows, decided without IO.

A temporary URL is an object URL plus a query:

    temp_url_sig=<signature>&temp_url_expires=<unix time | 2030-01-02T03:04:05Z>
    [&temp_url_prefix=<object name prefix>] [&temp_url_ip_range=<ip or cidr>]
    [&filename=<download name>] [&inline]

The signed message is `<METHOD>\\n<expires as unix time>\\n<path>`, where the path is the
object's `/v1/<account>/<container>/<object>` (or `prefix:/v1/<account>/<container>/<prefix>`
for a prefix URL), preceded by `ip=<range>\\n` when the URL is bound to client addresses.
`parse_query` reads the parameters (None when there are none: not a temporary URL),
`signed_paths` lists what a request's signature may cover, `disposition` builds the
Content-Disposition of a download and `HeaderRules` the header filters of both directions.
"""
from __future__ import annotations

import calendar
import ipaddress
import time
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from proxy.target import Target

SIG_PARAM = "temp_url_sig"
EXPIRES_PARAM = "temp_url_expires"
PREFIX_PARAM = "temp_url_prefix"
IP_RANGE_PARAM = "temp_url_ip_range"
EXPIRES_ISO8601_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
MAX_QUERY_LENGTH = 8192
DEFAULT_METHODS = ("GET", "HEAD", "PUT", "POST", "DELETE")
# A HEAD is allowed by a signature for any of these methods.
HEAD_SIGNED_AS = ("HEAD", "GET", "PUT")


class Invalid(Exception):
    """The temporary URL is malformed, expired or does not cover the request (a 401)."""


@dataclass(frozen=True)
class TempUrlQuery:
    signature: str
    expires: int
    prefix: str | None
    ip_range: str | None
    filename: str | None
    inline: bool
    expires_text: str = ""  # temp_url_expires as the client wrote it


def carried_query(query: TempUrlQuery) -> str:
    """The query a page served under a prefix URL puts on its links (staticweb listings).

    The same signature admits every name under the signed prefix, so a listing's links carry
    the parameters as the client sent them.
    """
    parts = [f"{PREFIX_PARAM}={quote(query.prefix or '')}",
             f"{EXPIRES_PARAM}={quote(query.expires_text or str(query.expires))}",
             f"{SIG_PARAM}={quote(query.signature, safe=':')}"]
    if query.ip_range is not None:
        parts.append(f"{IP_RANGE_PARAM}={quote(query.ip_range)}")
    if query.inline:
        parts.append("inline")
    return "&".join(parts)


def has_temp_url_params(query_string: str) -> bool:
    """Cheap test for the hot path: could this query be a temporary URL's?"""
    return "temp_url_" in query_string


def parse_query(query_string: str) -> TempUrlQuery | None:
    """The temporary URL's parameters; None when it has neither sig nor expires.

    Raises Invalid when it has one of them but the query is unusable.
    """
    if len(query_string) > MAX_QUERY_LENGTH:
        raise Invalid("query too long")
    params: dict[str, str] = {}
    try:
        pairs = parse_qsl(query_string, keep_blank_values=True, errors="strict",
                          max_num_fields=64)
    except (ValueError, UnicodeDecodeError):
        raise Invalid("query cannot be parsed") from None
    for name, value in pairs:
        params.setdefault(name, value)
    signature = params.get(SIG_PARAM)
    expires_text = params.get(EXPIRES_PARAM)
    if signature is None and expires_text is None:
        return None
    if not signature or not expires_text:
        raise Invalid("temp_url_sig and temp_url_expires are both needed")
    return TempUrlQuery(signature=signature, expires=parse_expires(expires_text),
                        prefix=params.get(PREFIX_PARAM), ip_range=params.get(IP_RANGE_PARAM),
                        filename=params.get("filename"), inline="inline" in params,
                        expires_text=expires_text)


def parse_expires(text: str) -> int:
    """Unix seconds from decimal digits or ISO 8601 `YYYY-MM-DDTHH:MM:SSZ` (UTC)."""
    if text.isascii() and text.isdigit():
        if len(text) > 12:
            raise Invalid("temp_url_expires out of range")
        return int(text)
    try:
        parsed = time.strptime(text, EXPIRES_ISO8601_FORMAT)
    except (ValueError, OverflowError):
        raise Invalid("temp_url_expires is neither unix time nor ISO 8601") from None
    return calendar.timegm(parsed)


def client_in_range(ip_range: str, client_ip: str) -> bool:
    """Whether `client_ip` lies in `ip_range` (one address or a CIDR); Invalid when junk."""
    try:
        network = ipaddress.ip_network(ip_range, strict=False)
    except ValueError:
        raise Invalid("temp_url_ip_range is not an address or a network") from None
    try:
        address = ipaddress.ip_address(client_ip)
    except ValueError:
        return False
    return address.version == network.version and address in network


def signed_paths(version: str, target: Target, query: TempUrlQuery) -> bytes:
    """The path part of the signed message for this request; Invalid when it cannot match."""
    if target.container is None:
        raise Invalid("temporary URLs address objects only")
    if target.obj is None:
        # A URL signed for the whole container (`temp_url_prefix=`) may read the container
        # itself: what staticweb serves there (its index or listing) for the anonymous.
        if query.prefix != "":
            raise Invalid("temporary URLs address objects only")
        return f"prefix:/{version}/{target.account}/{target.container}/".encode()
    if query.prefix is None:
        return f"/{version}/{target.account}/{target.container}/{target.obj}".encode()
    if not target.obj.startswith(query.prefix):
        raise Invalid("object is outside the signed prefix")
    return f"prefix:/{version}/{target.account}/{target.container}/{query.prefix}".encode()


def messages(method: str, path: bytes, query: TempUrlQuery, methods: tuple[str, ...]):
    """The messages one of which the signature must be over, each with the method it signs."""
    if method not in methods:
        return []
    signed_as = HEAD_SIGNED_AS if method == "HEAD" else (method,)
    head = f"ip={query.ip_range}\n".encode() if query.ip_range is not None else b""
    return [(signed, head + f"{signed}\n{query.expires}\n".encode() + path)
            for signed in signed_as if signed in methods]


def disposition(query: TempUrlQuery, object_name: str, existing: str | None) -> str | None:
    """The Content-Disposition of a temporary URL's GET answer (None: leave it as is)."""
    kind = "inline" if query.inline else "attachment"
    if query.filename is not None:
        name = query.filename
    elif query.inline:
        return "inline"
    elif existing:
        return None
    else:
        name = object_name.rsplit("/", 1)[-1]
    return f"{kind}; {_filename_params(name)}"


def _filename_params(name: str) -> str:
    plain = quote(name, safe=" /!#$&+,:;=?@[]^`{|}~'()*")
    plain = plain.replace("\\", "%5C").replace('"', "%22")
    return f"filename=\"{plain}\"; filename*=UTF-8''{quote(name, safe='')}"


def parse_header_patterns(text: str) -> tuple[str, ...]:
    """`x-foo x-bar-*` -> lowercased names; a trailing `*` matches any suffix."""
    return tuple(name.lower() for name in text.split())


def header_matches(name: str, patterns: tuple[str, ...]) -> bool:
    lowered = name.lower()
    for pattern in patterns:
        if pattern.endswith("*"):
            if lowered.startswith(pattern[:-1]):
                return True
        elif lowered == pattern:
            return True
    return False


@dataclass(frozen=True)
class HeaderRules:
    """Headers a temporary URL's request may not send and its answer may not show."""

    incoming_remove: tuple[str, ...]
    incoming_allow: tuple[str, ...]
    outgoing_remove: tuple[str, ...]
    outgoing_allow: tuple[str, ...]

    def drops_incoming(self, name: str) -> bool:
        return (header_matches(name, self.incoming_remove)
                and not header_matches(name, self.incoming_allow))

    def drops_outgoing(self, name: str) -> bool:
        return (header_matches(name, self.outgoing_remove)
                and not header_matches(name, self.outgoing_allow))
