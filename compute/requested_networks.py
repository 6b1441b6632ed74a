"""The `networks` attribute of a server create (Nova v2.1 shapes), checked (no IO).

`None` (absent) and `"auto"` both mean "the one network the project can use" (they differ
only when there is none: absent boots without a NIC, `auto` is a 400, as this cloud has no
get-me-a-network); `"none"` boots without a NIC; a list asks for one NIC per item, each
`{"uuid": <network>}` (with an optional `fixed_ip`) or `{"port": <existing port>}`.
Anything else is an HTTPError 400.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from common.http_errors import HTTPError

UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
                     r"[0-9a-fA-F]{12}$")
MAX_NICS = 16
ITEM_KEYS = frozenset({"uuid", "port", "fixed_ip", "tag"})


@dataclass(frozen=True)
class NicRequest:
    """One NIC asked for: a new port on `network_id` (at `fixed_ip` if given), or the
    existing port `port_id`."""

    network_id: str | None = None
    port_id: str | None = None
    fixed_ip: str | None = None


def _bad(message: str) -> HTTPError:
    return HTTPError(400, f"Invalid input for field/attribute networks: {message}")


def _uuid(item: dict, key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise _bad(f"'{key}' must be a UUID.")
    return value


def parse_networks(value) -> str | tuple[NicRequest, ...]:
    """"default", "auto", "none", or the NICs asked for, in order."""
    if value is None:
        return "default"
    if isinstance(value, str):
        if value in ("auto", "none"):
            return value
        raise _bad("a string must be 'auto' or 'none'.")
    if not isinstance(value, list):
        raise _bad("must be a list, 'auto' or 'none'.")
    if len(value) > MAX_NICS:
        raise _bad(f"at most {MAX_NICS} networks per server.")
    nics, ports = [], set()
    for item in value:
        if not isinstance(item, dict):
            raise _bad("each item must be an object.")
        unknown = set(item) - ITEM_KEYS
        if unknown:
            raise _bad(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}.")
        network_id, port_id = _uuid(item, "uuid"), _uuid(item, "port")
        fixed_ip = item.get("fixed_ip")
        if fixed_ip is not None:
            if not isinstance(fixed_ip, str):
                raise _bad("'fixed_ip' must be an IP address.")
            try:
                fixed_ip = str(ipaddress.ip_address(fixed_ip))
            except ValueError:
                raise _bad(f"'fixed_ip' {fixed_ip[:64]!r} is not an IP address.") from None
        if port_id is not None:
            if fixed_ip is not None:
                raise _bad("'fixed_ip' cannot be given with 'port'.")
            if port_id in ports:
                raise _bad(f"port {port_id} is given twice.")
            ports.add(port_id)
            network_id = None  # the port's own network
        elif network_id is None:
            raise _bad("each item needs 'uuid' or 'port'.")
        nics.append(NicRequest(network_id, port_id, fixed_ip))
    return tuple(nics)
