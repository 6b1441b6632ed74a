"""Account and container existence/metadata, fetched with HEAD and cached briefly.

Object writes need to know the account and container exist (404 otherwise), and requests
by non-owners need the container's ACLs. Both come from a HEAD to the account or container
replicas; positive answers are kept `ttl` seconds in this process and dropped when this
proxy itself PUTs, POSTs or DELETEs the entity.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from proxy.acl import EMPTY_ACL, ParsedAcl, parse_acl
from proxy.get_resume import first_answer


@dataclass(frozen=True)
class EntityInfo:
    status: int
    headers: dict
    read_acl: ParsedAcl = EMPTY_ACL
    write_acl: ParsedAcl = EMPTY_ACL

    @property
    def exists(self) -> bool:
        return 200 <= self.status < 300


class InfoCache:
    """Looks up and caches account and container HEADs."""

    def __init__(self, client, account_ring, container_ring, account_ttl, container_ttl):
        self.client = client
        self.account_ring = account_ring
        self.container_ring = container_ring
        self.account_ttl = account_ttl
        self.container_ttl = container_ttl
        self._entries: dict[tuple, tuple[float, EntityInfo]] = {}

    def _cached(self, key):
        entry = self._entries.get(key)
        if entry is not None:
            if entry[0] > time.monotonic():
                return entry[1]
            self._entries.pop(key, None)
        return None

    def _store(self, key, info: EntityInfo, ttl: float) -> None:
        if info.exists and ttl > 0:
            if len(self._entries) > 100_000:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + ttl, info)

    def account(self, account: str) -> EntityInfo:
        key = (account,)
        info = self._cached(key)
        if info is None:
            part, nodes = self.account_ring.get_nodes(account)
            info = self._head(self.account_ring, part, nodes, f"/{account}")
            self._store(key, info, self.account_ttl)
        return info

    def container(self, account: str, container: str) -> EntityInfo:
        key = (account, container)
        info = self._cached(key)
        if info is None:
            part, nodes = self.container_ring.get_nodes(account, container)
            info = self._head(self.container_ring, part, nodes, f"/{account}/{container}")
            if info.exists:
                info = EntityInfo(
                    info.status,
                    info.headers,
                    parse_acl(info.headers.get("x-container-read")),
                    parse_acl(info.headers.get("x-container-write")),
                )
            self._store(key, info, self.container_ttl)
        return info

    def _head(self, ring, part, nodes, path) -> EntityInfo:
        node_iter = self.client.iter_nodes(ring, part, nodes)
        response, node_or_status = first_answer(self.client, node_iter, part, "HEAD", path, {})
        if response is None:
            return EntityInfo(node_or_status, {})
        response.drain_and_release()
        return EntityInfo(response.status, response.headers)

    def invalidate(self, account: str, container: str | None = None) -> None:
        if container is None:
            self._entries.pop((account,), None)
        else:
            self._entries.pop((account, container), None)
