"""What object versioning knows of a container, and the header helpers its parts share.

`ContainerState` is a container's HEAD as the filter needs it (exists, ACLs, versioning on,
suspended or never set); `header_map` and `without_headers` read and filter the header lists
of sub-request responses.
"""
from __future__ import annotations

from proxy.acl import parse_acl
from proxy.info_cache import EntityInfo
from proxy.middleware.version_names import CONTAINER_SYSMETA


class ContainerState:
    """What this filter needs to know of a container: exists, ACLs, versioning."""

    __slots__ = ("status", "headers", "versioning")

    def __init__(self, status: int, headers: dict):
        self.status = status
        self.headers = headers
        value = headers.get(CONTAINER_SYSMETA)
        # None: never versioned; True: versioning; False: suspended.
        self.versioning = None if value is None else value == "true"

    @property
    def exists(self) -> bool:
        return 200 <= self.status < 300

    def entity(self) -> EntityInfo:
        return EntityInfo(self.status, self.headers,
                          parse_acl(self.headers.get("x-container-read")),
                          parse_acl(self.headers.get("x-container-write")))


def header_map(response) -> dict:
    return {name.lower(): value for name, value in response.headers}


def without_headers(headers, names) -> list:
    lowered = {name.lower() for name in names}
    return [(name, value) for name, value in headers if name.lower() not in lowered]

