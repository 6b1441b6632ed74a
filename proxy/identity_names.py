"""Names of Keystone projects and users, for Swift ACLs that name them instead of ids.

A Keystone token carries ids only, but Swift's keystoneauth lets an ACL name a caller as
`<project name>:<user name>` (or mix a name, an id and `*` on either side) when the project
and the user are both in the default domain (names are unique only within a domain).
`IdentityNames.named(caller)` returns the caller with those groups added
(`proxy.callers.with_names`), asking the identity service (`GET /v3/projects/{id}`,
`GET /v3/users/{id}`, with the token of the service user the revocation poll logs in as) and
remembering each answer for `ttl` seconds, so a rename reaches ACLs within that time. The
auth middleware asks only when an ACL decides (a caller that does not own the account), and
not for a Swift v1 token of the `[users]` table (its names are all it has). Any failure gives no
names: ids still match, and the decision is only as generous as ids allow.
"""
from __future__ import annotations

import logging
import time
from urllib.parse import quote

from common.http_client import HTTPClient, HTTPClientError
from proxy.callers import Caller, with_names

log = logging.getLogger("brume.proxy.auth")
CACHE_SIZE = 10000


class IdentityNames:
    def __init__(self, url: str, service_token, default_domain: str = "default",
                 ttl: float = 60.0, client: HTTPClient | None = None):
        """`service_token()`: a token of an identity admin (the revocation poller's)."""
        self.url = url.rstrip("/")
        self.service_token = service_token
        self.default_domain = default_domain
        self.ttl = ttl
        self.client = client or HTTPClient(timeout=10.0, retries=1)
        self._cache: dict[tuple[str, str], tuple[float, str | None]] = {}

    def named(self, caller: Caller) -> Caller:
        if caller.named:
            return caller
        project = self.name_of("projects", caller.project_id)
        user = self.name_of("users", caller.user_id)
        if project is None or user is None:
            return caller
        return with_names(caller, project, user)

    def name_of(self, kind: str, entity_id: str) -> str | None:
        """The name of a project or user of the default domain; None otherwise."""
        key = (kind, entity_id)
        cached = self._cache.get(key)
        now = time.monotonic()
        if cached is not None and cached[0] > now:
            return cached[1]
        name = self._fetch(kind, entity_id)
        if len(self._cache) >= CACHE_SIZE:
            self._cache.clear()
        self._cache[key] = (now + self.ttl, name)
        return name

    def _fetch(self, kind: str, entity_id: str) -> str | None:
        try:
            answer = self.client.request(
                "GET", f"{self.url}/v3/{kind}/{quote(entity_id, safe='')}",
                headers={"X-Auth-Token": self.service_token()}, max_body=1 << 20)
            if answer.status != 200:
                return None
            record = answer.json()[kind[:-1]]
        except (HTTPClientError, OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("cannot look up the name of %s %s: %s", kind[:-1], entity_id[:64], exc)
            return None
        if not isinstance(record, dict) or record.get("domain_id") != self.default_domain:
            return None
        name = record.get("name")
        return name if isinstance(name, str) and name else None
