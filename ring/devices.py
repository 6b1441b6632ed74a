"""Devices of a ring and the operator's ways of naming them.

A device is one disk of one storage node: where it lives (region, zone, ip, port), its
directory name under the node's devices root, its weight, and free-form meta. This module
also parses the `r<region>z<zone>-<ip>:<port>/<device>` add form and Swift-style search
values (`d<id>`, `r1z2-10.0.0.1:6200/sdb`, `10.0.0.1`, `/sdb`, `_meta`, ...).
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass, field


class RingError(Exception):
    """A problem with a ring or builder operation, described in one line."""


@dataclass
class Device:
    """One disk that can hold partition replicas."""

    id: int
    region: int
    zone: int
    ip: str
    port: int
    device: str
    weight: float
    meta: str = ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Device:
        try:
            return cls(
                id=int(data["id"]),
                region=int(data["region"]),
                zone=int(data["zone"]),
                ip=str(data["ip"]),
                port=int(data["port"]),
                device=str(data["device"]),
                weight=float(data["weight"]),
                meta=str(data.get("meta", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RingError(f"malformed device record: {exc}") from None

    def describe(self) -> str:
        return f"d{self.id}r{self.region}z{self.zone}-{self.ip}:{self.port}/{self.device}"


def normalize_ip(text: str) -> str:
    """Canonical form of an IPv4/IPv6 address (brackets allowed); RingError if invalid."""
    bare = text[1:-1] if text.startswith("[") and text.endswith("]") else text
    try:
        return str(ipaddress.ip_address(bare))
    except ValueError:
        raise RingError(f"invalid ip address: {text!r}") from None


def check_device_fields(region: int, zone: int, port: int, device: str, weight: float) -> None:
    if region < 0 or zone < 0:
        raise RingError("region and zone must be >= 0")
    if not 0 < port <= 65535:
        raise RingError(f"port out of range: {port}")
    if not device or "/" in device or device in (".", ".."):
        raise RingError(f"invalid device name: {device!r}")
    if not weight >= 0 or weight == float("inf"):
        raise RingError(f"weight must be a finite number >= 0, got {weight!r}")


_ADD_RE = re.compile(
    r"^r(?P<region>\d+)z(?P<zone>\d+)-(?P<ip>\[[0-9a-fA-F:.]+\]|[0-9.]+)"
    r":(?P<port>\d+)/(?P<device>[^/_\s]+)(?:_(?P<meta>.*))?$"
)


def parse_add_spec(spec: str) -> dict:
    """Parse `r<region>z<zone>-<ip>:<port>/<device>[_<meta>]` into device fields."""
    match = _ADD_RE.match(spec)
    if not match:
        raise RingError(
            f"bad device spec {spec!r}: expected r<region>z<zone>-<ip>:<port>/<device>"
        )
    return {
        "region": int(match["region"]),
        "zone": int(match["zone"]),
        "ip": normalize_ip(match["ip"]),
        "port": int(match["port"]),
        "device": match["device"],
        "meta": match["meta"] or "",
    }


_SEARCH_RE = re.compile(
    r"^(?:d(?P<id>\d+))?(?:r(?P<region>\d+))?(?:z(?P<zone>\d+))?"
    r"(?:-?(?P<ip>\[[0-9a-fA-F:.]+\]|\d+\.\d+\.\d+\.\d+))?(?::(?P<port>\d+))?"
    r"(?:/(?P<device>[^/_\s]+))?(?:_(?P<meta>.+))?$"
)


@dataclass(frozen=True)
class DeviceSearch:
    """A parsed search value; every given field must match."""

    criteria: dict = field(default_factory=dict)
    text: str = ""

    def matches(self, dev: Device) -> bool:
        return all(getattr(dev, key) == value for key, value in self.criteria.items())


def parse_search(value: str) -> DeviceSearch:
    """Parse a Swift-style search value such as `d3`, `r1z2-10.0.0.1:6200/sdb`, `10.0.0.1`."""
    match = _SEARCH_RE.match(value.strip()) if value.strip() else None
    if not match or not any(match.groupdict().values()):
        raise RingError(
            f"bad search value {value!r}: use d<id>, r<region>z<zone>-<ip>:<port>/<device>, "
            "<ip>, /<device> or _<meta>"
        )
    criteria: dict = {}
    for key in ("id", "region", "zone", "port"):
        if match[key] is not None:
            criteria[key] = int(match[key])
    if match["ip"] is not None:
        criteria["ip"] = normalize_ip(match["ip"])
    if match["device"] is not None:
        criteria["device"] = match["device"]
    if match["meta"] is not None:
        criteria["meta"] = match["meta"]
    return DeviceSearch(criteria, value)
