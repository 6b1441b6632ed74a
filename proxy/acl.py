"""Container ACLs (`X-Container-Read`, `X-Container-Write`) in Swift's v1 syntax.

An ACL is a comma-separated list of elements:

- `account` or `account:user` — a group the requester must belong to;
- `.r:<referrer>` (or `.referrer:`) — HTTP referrer rule; `.r:*` grants anonymous read of
  objects, `.r:.example.com` a domain, `.r:-host` a denial; read ACLs only;
- `.rlistings` — with a matching referrer rule, also allow listing the container.

`clean_acl` validates and normalises a header value (a one-line reason on error);
`parse_acl` splits a stored value into (referrer rules, groups, listings flag).
Pure functions, no IO.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

READ_HEADER = "x-container-read"
WRITE_HEADER = "x-container-write"


@dataclass(frozen=True)
class ParsedAcl:
    referrers: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()
    listings: bool = False


EMPTY_ACL = ParsedAcl()


class AclError(ValueError):
    """An ACL header value that cannot be accepted; the message is one line."""


def clean_acl(header_name: str, value: str) -> str:
    """Validate an ACL header value and return its normal form (raises AclError)."""
    header = header_name.lower()
    cleaned: list[str] = []
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        if item.startswith("."):
            key, sep, target = item.partition(":")
            key = key.strip()
            target = target.strip()
            if key == ".rlistings" and not sep:
                if header != READ_HEADER:
                    raise AclError(f"{header_name}: .rlistings is only allowed in read ACLs")
                cleaned.append(".rlistings")
                continue
            if key not in (".r", ".ref", ".referer", ".referrer"):
                raise AclError(f"{header_name}: unknown ACL element {item!r}")
            if header != READ_HEADER:
                raise AclError(f"{header_name}: referrers are not allowed in write ACLs")
            if not target:
                raise AclError(f"{header_name}: empty referrer in {item!r}")
            negate = target.startswith("-")
            host = target[1:] if negate else target
            if "://" in host:
                host = urlparse(host).hostname or ""
            if host.startswith("*.") and len(host) > 2:
                host = host[1:]  # `*.example.com` is the domain rule `.example.com`
            if not host:
                raise AclError(f"{header_name}: empty referrer host in {item!r}")
            cleaned.append(".r:" + ("-" if negate else "") + host)
        else:
            cleaned.append(item)
    return ",".join(cleaned)


def parse_acl(value: str | None) -> ParsedAcl:
    """Split a stored (cleaned) ACL into referrer rules, groups and the listings flag."""
    if not value:
        return EMPTY_ACL
    referrers: list[str] = []
    groups: list[str] = []
    listings = False
    for raw in value.split(","):
        item = raw.strip()
        if not item:
            continue
        if item == ".rlistings":
            listings = True
        elif item.startswith(".r:"):
            referrers.append(item[3:])
        elif item.startswith("."):
            continue
        else:
            groups.append(item)
    return ParsedAcl(tuple(referrers), tuple(groups), listings)


def referrer_allowed(referrer: str | None, rules: tuple[str, ...]) -> bool:
    """Apply referrer rules in order; the last matching rule decides."""
    allowed = False
    host = ""
    if referrer:
        host = urlparse(referrer).hostname or ""
    for rule in rules:
        negate = rule.startswith("-")
        pattern = rule[1:] if negate else rule
        if pattern.startswith("*.") and len(pattern) > 2:
            pattern = pattern[1:]
        if pattern == "*":
            matched = True
        elif pattern.startswith("."):
            matched = bool(host) and (host.endswith(pattern) or host == pattern[1:])
        else:
            matched = bool(host) and host == pattern
        if matched:
            allowed = not negate
    return allowed
