"""MAC addresses with no IO: the configured prefix, random generation under it, validation.

`[network] mac_prefix` holds one to five octets (default `fa:16:3e`, Neutron's); generated
addresses add random octets to it. A client's MAC must be a unicast address written as six
hex octets; it is returned in lower case, colon-separated.
"""
from __future__ import annotations

import re

from network.errors import invalid_attr, short

_MAC = re.compile(r"^[0-9a-fA-F]{2}([:-][0-9a-fA-F]{2}){5}$")


def parse_prefix(text: str) -> bytes:
    """The octets of a prefix such as `fa:16:3e`; ValueError when malformed or multicast."""
    parts = text.strip().split(":")
    if not 1 <= len(parts) <= 5 or not all(re.fullmatch(r"[0-9a-fA-F]{2}", p) for p in parts):
        raise ValueError("expected 1 to 5 hex octets separated by ':'")
    octets = bytes(int(part, 16) for part in parts)
    if octets[0] & 1:
        raise ValueError("the first octet must be unicast (lowest bit clear)")
    return octets


def generate(prefix: bytes, random_bytes) -> str:
    """A MAC made of `prefix` and `random_bytes(n)` for the remaining octets."""
    octets = prefix + random_bytes(6 - len(prefix))
    return ":".join(f"{octet:02x}" for octet in octets)


def normalize(value) -> str:
    """A client's MAC in canonical form; 400 when malformed, multicast or all zero."""
    if not isinstance(value, str) or not _MAC.match(value):
        raise invalid_attr("mac_address", f"'{short(value)}' is not a valid MAC address")
    octets = bytes(int(part, 16) for part in re.split("[:-]", value))
    if octets[0] & 1 or octets == bytes(6):
        raise invalid_attr("mac_address", f"'{short(value)}' is not a valid unicast MAC "
                                          f"address")
    return ":".join(f"{octet:02x}" for octet in octets)
