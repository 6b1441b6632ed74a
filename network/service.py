"""The network service's state shared by all handlers: config, store, token keys, quotas.

`NetworkService.caller(req)` is how a handler learns who is asking: the `X-Auth-Token`
checked locally by `common.token_check` (a Keystone token: signature, expiry, project scope,
not revoked by a known revocation event; or a Swift v1 token), else a 401.
"""
from __future__ import annotations

import os

from webob import Request

from common.token_check import Requester, TokenChecker
from network.config import NetworkConfig
from network.errors import NeutronError
from network.store import Store, Tx


class NetworkService:
    def __init__(self, config: NetworkConfig):
        self.config = config
        self.store = Store(config.db_path)
        self.tokens = TokenChecker.from_values(config.token_check, config.token_secret,
                                               f"{config.where}: [network]")
        self.revocations = self.tokens.revocations

    def caller(self, req: Request) -> Requester:
        requester = self.tokens.requester(req.headers.get("X-Auth-Token"))
        if requester is None:
            raise NeutronError(401, "HTTPUnauthorized",
                               "Authentication required (a valid project-scoped token)")
        return requester

    def check_quota(self, tx: Tx, resource: str, table: str, project_id: str,
                    adding: int = 1) -> None:
        """409 OverQuota when `project_id` would hold more than its quota of `resource`."""
        limit = self.config.quotas[resource]
        if limit < 0:
            return
        used = tx.row(f"SELECT count(*) AS n FROM {table} WHERE project_id = ?",
                      (project_id,))["n"]
        if used + adding > limit:
            raise NeutronError(409, "OverQuota",
                               f"Quota exceeded for resources: ['{resource}'].")

    def random_bytes(self, count: int) -> bytes:
        return os.urandom(count)
