"""The network service's state shared by all handlers: config, store, token keys, quotas.

`NetworkService.caller(req)` is how a handler learns who is asking: the `X-Auth-Token`
verified locally (`common.token_format`: the identity service's Fernet keys, signature and
expiry), not revoked by a known revocation event (`network.revocation`, polled from the
identity service when `revocation_url` is set) and project-scoped, else a 401.
"""
from __future__ import annotations

import os

from webob import Request

from common.config import ConfigError
from common.token_format import fernet_of, key_from_secret, read_key_file, verify_token
from network.config import NetworkConfig
from network.errors import NeutronError
from network.policy import Caller
from network.revocation import IdentityPoller, RevocationList
from network.store import Store, Tx


def load_fernet(config: NetworkConfig):
    if not config.token_key_file:
        return fernet_of([key_from_secret(config.token_secret)])
    try:
        return fernet_of(read_key_file(config.token_key_file))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"[network] token_key_file {config.token_key_file}: {exc}") from None


class NetworkService:
    def __init__(self, config: NetworkConfig):
        self.config = config
        self.store = Store(config.db_path)
        self.fernet = load_fernet(config)
        self.revocations = RevocationList(config.revocation_keep)
        self.poller = None
        if config.revocation_url:
            self.poller = IdentityPoller(config.revocation_url, config.revocation_user,
                                         config.revocation_password, config.revocation_project,
                                         config.revocation_domain, self.revocations)

    def caller(self, req: Request) -> Caller:
        token = req.headers.get("X-Auth-Token", "")
        claims = verify_token(token, self.fernet) if token else None
        if claims is None or self.revocations.revoked(claims):
            raise NeutronError(401, "HTTPUnauthorized", "Authentication required")
        if not claims.project_id:
            raise NeutronError(401, "HTTPUnauthorized",
                               "A project-scoped token is required")
        return Caller(claims.user_id, claims.project_id, frozenset(claims.roles))

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
