"""Authentication (v1 `/auth/v1.0`) and authorization decisions, with Swift's semantics.

`handle_auth` trades `X-Auth-User: account:user` + `X-Auth-Key` (or `X-Storage-User` /
`X-Storage-Pass`) for a signed token (`common.tokens`), checking the key against the
`[users]` table or, when the proxy is configured with the identity service, against the
identity store (`proxy.identity_login`). `Authorizer` decides, without IO, whether a
request by a `proxy.callers.Caller` may proceed:

- a reseller admin may do anything on any `AUTH_` account;
- an owner (`.admin`; a Keystone `member`) owns `AUTH_<its project>`: everything there
  except PUT/DELETE of the account;
- a Keystone `reader` may GET/HEAD its own account, its containers and objects;
- PUT/DELETE of an account needs a reseller admin; account GET/HEAD/POST need ownership;
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

from common.tokens import issue_token
from proxy.acl import EMPTY_ACL, ParsedAcl, referrer_allowed
from proxy.callers import Caller

ALLOW = None


def v1_credentials(req) -> tuple[str, str]:
    """(`account:user`, key) of a `/auth/v1.0` request."""
    name = req.headers.get("X-Auth-User") or req.headers.get("X-Storage-User") or ""
    key = req.headers.get("X-Auth-Key") or req.headers.get("X-Storage-Pass") or ""
    return name, key


def refused() -> Response:
    return Response(status=401, body=b"invalid user or key\n", content_type="text/plain")


def handle_auth(req, users: dict, secret: str, token_life: float, reseller_prefix: str,
                public_url: str) -> Response:
    """GET /auth/v1.0 against the `[users]` table: 200 with a token, or 401."""
    if req.method not in ("GET", "HEAD"):
        return Response(status=405, body=b"use GET\n", headers={"Allow": "GET, HEAD"})
    name, key = v1_credentials(req)
    entry = users.get(name)
    if entry is None or not hmac.compare_digest(entry.key.encode(), key.encode()):
        return refused()
    token, info = issue_token(secret, entry.account, entry.user, entry.roles, token_life)
    return token_response(req, token, info, reseller_prefix, public_url)


def token_response(req, token: str, info, reseller_prefix: str, public_url: str) -> Response:
    """The 200 of `/auth/v1.0`: the token and the storage URL of its account."""
    base = public_url or f"{req.scheme}://{req.host}"
    storage_url = f"{base}/v1/{reseller_prefix}{info.account}"
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

    def is_owner(self, identity: Caller | None, account: str) -> bool:
        if identity is None or not account.startswith(self.prefix):
            return False
        if identity.is_reseller_admin:
            return True
        return identity.owner and account == self.prefix + identity.project_id

    def reads_own(self, identity: Caller | None, account: str) -> bool:
        """Whether the caller may read `account` for being its project's reader."""
        return identity is not None and identity.reader and \
            account == self.prefix + identity.project_id

    def groups(self, identity: Caller | None) -> set[str]:
        if identity is None:
            return set()
        found = set(identity.groups)
        if identity.owner:
            found.add(self.prefix + identity.project_id)
        return found

    def may_grant(self, identity: Caller | None, account: str) -> bool:
        """Whether an account ACL could matter: an authenticated caller, a reseller account."""
        return identity is not None and account.startswith(self.prefix)

    @staticmethod
    def deny(identity: Caller | None) -> int:
        return 401 if identity is None else 403

    def needs_acl(self, identity, method: str, account: str, container, obj) -> bool:
        """True when the decision depends on the container's ACLs (caller must fetch them)."""
        if self.is_owner(identity, account):
            return False
        if method in ("GET", "HEAD") and self.reads_own(identity, account):
            return False
        if not container or not account.startswith(self.prefix):
            return False
        if obj is None and method not in ("GET", "HEAD"):
            return False
        return True

    def authorize(
        self,
        identity: Caller | None,
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
        if method in ("GET", "HEAD") and self.reads_own(identity, account):
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
