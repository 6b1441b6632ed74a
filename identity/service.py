"""The identity service's state shared by all handlers: config, store, hasher, tokens, catalog.

`IdentityService.caller(req)` is how a handler learns who is asking: the `X-Auth-Token`
validated against the store (`identity.tokens`), or a 401.
"""
from __future__ import annotations

from webob import Request

from identity.catalog import Catalog
from identity.config import INTERFACES, IdentityConfig
from identity.passwords import Hasher
from identity.store import Store
from identity.tokens import TokenService, ValidToken
from identity.web import unauthorized


class IdentityService:
    def __init__(self, config: IdentityConfig):
        self.config = config
        self.base = config.public_url
        self.store = Store(config.db_path)
        self.hasher = Hasher(config.password_hash_time_cost, config.password_hash_memory_kib)
        self.tokens = TokenService(config, self.store)
        endpoints = dict(config.catalog)
        if not any(kind == "identity" for kind, _ in endpoints):
            for interface in INTERFACES:
                endpoints[("identity", interface)] = f"{self.base}/v3"
        self.catalog = Catalog(config.region, endpoints)

    def caller(self, req: Request) -> ValidToken:
        token = req.headers.get("X-Auth-Token", "")
        valid = self.tokens.validate(token) if token else None
        if valid is None:
            raise unauthorized()
        return valid

    def catalog_for(self, valid: ValidToken) -> list[dict]:
        return self.catalog.for_scope(valid.claims.project_id,
                                      scoped=valid.claims.scope_kind is not None)
