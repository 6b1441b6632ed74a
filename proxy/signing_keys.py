"""The secret keys that sign temporary URLs and form POSTs, read from account and container.

An account owner sets `X-Account-Meta-Temp-URL-Key` (and `-2`, to rotate keys without
breaking URLs already handed out); a container owner may set `X-Container-Meta-Temp-URL-Key`
(and `-2`). A signature made with an account key may reach anything in the account's reach
(`ACCOUNT_SCOPE`), one made with a container key only that container (`CONTAINER_SCOPE`).

The keys are read with metadata lookups (`proxy.metadata_lookup`: answered by the app from
its info cache, without authorization, never shown to a client), so no filter below (a
staticweb serving the container to the anonymous) can stand in for the metadata.
"""
from __future__ import annotations

from proxy.metadata_lookup import Metadata, lookup
from proxy.target import Target

ACCOUNT_SCOPE = "account"
CONTAINER_SCOPE = "container"
ACCOUNT_KEY_HEADERS = ("X-Account-Meta-Temp-Url-Key", "X-Account-Meta-Temp-Url-Key-2")
CONTAINER_KEY_HEADERS = ("X-Container-Meta-Temp-Url-Key", "X-Container-Meta-Temp-Url-Key-2")


def keys_in(found: Metadata, header_names, scope: str) -> list[tuple[bytes, str]]:
    """The non-empty key headers of what a lookup found, as (key bytes, scope) pairs."""
    if not found.found:
        return []
    keys = []
    for name in header_names:
        value = found.get(name.lower())
        if value:
            keys.append((_header_bytes(value), scope))
    return keys


def _header_bytes(value: str) -> bytes:
    """A WSGI header value's bytes (WSGI carries them as latin-1 text; UTF-8 keys too)."""
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8", "surrogateescape")


def lookup_keys(app, parent_environ, target: Target) -> list[tuple[bytes, str]]:
    """Account keys, then the container's (when `target` names a container)."""
    keys = keys_in(lookup(app, parent_environ, f"/v1/{target.account}"),
                   ACCOUNT_KEY_HEADERS, ACCOUNT_SCOPE)
    if target.container is not None:
        keys += keys_in(lookup(app, parent_environ, f"/v1/{target.account}/{target.container}"),
                        CONTAINER_KEY_HEADERS, CONTAINER_SCOPE)
    return keys
