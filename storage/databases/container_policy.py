"""A container's storage policy, as its container server keeps it.

The proxy names the policy of a container PUT in `X-Backend-Storage-Policy-Index` (the
client chose it) or only the cluster's default in `X-Backend-Storage-Policy-Default`. The
index is stored in the container's metadata under `POLICY_KEY`, stamped with the creating
PUT's timestamp, so it replicates with the rest of the metadata (the newest wins) and a
database made before policies existed reads as policy 0. HEAD/GET answer it under the same
header name. A live container never changes policy: an explicit different index is a 409;
a container deleted and created again takes the new one. Pure functions, no IO.
"""
from __future__ import annotations

from common.http_errors import HTTPError
from common.storage_policies import BACKEND_INDEX_HEADER

POLICY_KEY = BACKEND_INDEX_HEADER
DEFAULT_HEADER = "X-Backend-Storage-Policy-Default"


def _index_header(headers, name: str) -> int | None:
    value = headers.get(name)
    if value is None or value.strip() == "":
        return None
    value = value.strip()
    if not value.isdigit() or len(value) > 6:
        raise HTTPError(400, f"invalid {name}: {value[:20]!r}")
    return int(value)


def requested_policy(headers) -> tuple[int | None, int]:
    """(explicit index or None, the index to use when none is given) of a container PUT."""
    explicit = _index_header(headers, BACKEND_INDEX_HEADER)
    default = _index_header(headers, DEFAULT_HEADER)
    return explicit, default if default is not None else 0


def stored_policy(metadata: dict) -> int:
    """The policy index in a container's metadata ({key: (value, timestamp)}); 0 if none."""
    pair = metadata.get(POLICY_KEY)
    if not pair or not str(pair[0]).isdigit():
        return 0
    return int(pair[0])


def policy_update(headers, metadata: dict | None, live: bool, timestamp: str) -> dict:
    """The metadata update a container PUT makes to the policy ({} when none), or 409.

    `metadata` is the existing container's (None when it is new); `live`: it exists and is
    not deleted."""
    explicit, default = requested_policy(headers)
    if live and metadata is not None:
        if explicit is not None and explicit != stored_policy(metadata):
            raise HTTPError(409, "container exists with another storage policy")
        return {}
    return {POLICY_KEY: (str(explicit if explicit is not None else default), timestamp)}
