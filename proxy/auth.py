"""Authentication (v1 `/auth/v1.0`) and authorization decisions, with Swift's semantics.

`handle_auth` trades `X-Auth-User: account:user` + `X-Auth-Key` (or `X-Storage-User` /
`X-Storage-Pass`) for a signed token (`common.tokens`). `Authorizer` decides, without IO,
whether a request may proceed:

- `.reseller_admin` may do anything on any `AUTH_` account;
- `.admin` owns `AUTH_<its account>`: everything there except PUT/DELETE of the account;
- PUT/DELETE of an account needs `.reseller_admin`; account GET/HEAD/POST need ownership;
- container PUT/POST/DELETE (and so setting ACLs) need ownership;
- a group named in the account's ACL (`proxy.account_acl`, looked up by the auth
  middleware) gets its level: `read-only`, `read-write` or `admin` (as the owner);
- everyone else relies on the container's ACLs: a read ACL group (`account` or
  `account:user`) allows object GET/HEAD and listings; `.r:<referrer>` allows object GET/HEAD
  (anonymous too); `.rlistings` with a matching referrer also allows the listing; a write ACL
  group allows object PUT/POST/DELETE.
Denials are 401 for anonymous requests and 403 for authenticated ones.
"""
from __future__ import annotations

import hmac
import time

from webob import Response

from common.tokens import TokenInfo, issue_token
from proxy.acl import EMPTY_ACL, ParsedAcl, referrer_allowed

ALLOW = None


def handle_auth(req, users: dict, secret: str, token_life: float, reseller_prefix: str,
                public_url: str) -> Response:
    """GET /auth/v1.0: 200 with a token, or 401."""
    if req.method not in ("GET", "HEAD"):
        return Response(status=405, body=b"use GET\n", headers={"Allow": "GET, HEAD"})
    name = req.headers.get("X-Auth-User") or req.headers.get("X-Storage-User") or ""
    key = req.headers.get("X-Auth-Key") or req.headers.get("X-Storage-Pass") or ""
    entry = users.get(name)
    if entry is None or not hmac.compare_digest(entry.key.encode(), key.encode()):
        return Response(status=401, body=b"invalid user or key\n", content_type="text/plain")
    token, info = issue_token(secret, entry.account, entry.user, entry.roles, token_life)
    base = public_url or f"{req.scheme}://{req.host}"
    storage_url = f"{base}/v1/{reseller_prefix}{entry.account}"
    expires_in = max(int(info.expires - time.time()), 0)
    return Response(
        status=200,
        body=b"",
        content_type="text/plain",
        headers={
            "X-Auth-Token": token,
            "X-Storage-Token": token,
            "X-Storage-Url": storage_url,
            "X-Auth-Token-Expires": str(expires_in),
        },
    )


class Authorizer:
    """Pure authorization decisions; returns None (allowed) or an HTTP status (401/403)."""

    def __init__(self, reseller_prefix: str = "AUTH_"):
        self.prefix = reseller_prefix

    def is_owner(self, identity: TokenInfo | None, account: str) -> bool:
        if identity is None or not account.startswith(self.prefix):
            return False
        if identity.is_reseller_admin:
            return True
        return identity.is_admin and account == self.prefix + identity.account

    def groups(self, identity: TokenInfo | None) -> set[str]:
        if identity is None:
            return set()
        found = {identity.account, f"{identity.account}:{identity.user}"}
        if identity.is_admin:
            found.add(self.prefix + identity.account)
        return found

    def may_grant(self, identity: TokenInfo | None, account: str) -> bool:
        """Whether an account ACL could matter: an authenticated caller, a reseller account."""
        return identity is not None and account.startswith(self.prefix)

    @staticmethod
    def deny(identity: TokenInfo | None) -> int:
        return 401 if identity is None else 403

    def needs_acl(self, identity, method: str, account: str, container, obj) -> bool:
        """True when the decision depends on the container's ACLs (caller must fetch them)."""
        if self.is_owner(identity, account):
            return False
        if not container or not account.startswith(self.prefix):
            return False
        if obj is None and method not in ("GET", "HEAD"):
            return False
        return True

    def authorize(
        self,
        identity: TokenInfo | None,
        method: str,
        account: str,
        container: str | None,
        obj: str | None,
        read_acl: ParsedAcl = EMPTY_ACL,
        write_acl: ParsedAcl = EMPTY_ACL,
        referrer: str | None = None,
    ) -> int | None:
        if not account.startswith(self.prefix):
            return self.deny(identity)
        if container is None and method in ("PUT", "DELETE"):
            if identity is not None and identity.is_reseller_admin:
                return ALLOW
            return self.deny(identity)
        if self.is_owner(identity, account):
            return ALLOW
        if container is None:
            return self.deny(identity)
        groups = self.groups(identity)
        if obj is None:
            if method not in ("GET", "HEAD"):
                return self.deny(identity)
            if groups.intersection(read_acl.groups):
                return ALLOW
            if read_acl.listings and referrer_allowed(referrer, read_acl.referrers):
                return ALLOW
            return self.deny(identity)
        if method in ("GET", "HEAD"):
            if groups.intersection(read_acl.groups):
                return ALLOW
            if referrer_allowed(referrer, read_acl.referrers):
                return ALLOW
            return self.deny(identity)
        if method in ("PUT", "POST", "DELETE", "COPY"):
            if groups.intersection(write_acl.groups):
                return ALLOW
        return self.deny(identity)
