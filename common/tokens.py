"""Signed, stateless auth tokens shared by the proxy, the image service and the compute API.

A token is `BRM_<payload>.<signature>`:

- `payload` is base64url (no padding) of compact JSON
  `{"a": account, "u": user, "r": [roles...], "e": expiry_unix_seconds}`, plus, for a token
  issued against the identity store, `"i"` (the user's id), `"t"` (when it was issued),
  which let a checker match the identity service's revocation events (a disabled user, a
  changed password, a disabled project), and `"k"` (the user's Keystone roles on the
  project, which other services go by);
- `signature` is base64url (no padding) of HMAC-SHA256(secret, "BRM_" + payload).

Any process holding the cluster's `[auth] token_secret` can check a token without talking to
the proxy, so tokens stay valid across proxy restarts and on every proxy of the cluster.
`account` is the bare account name (`test`); the storage account it owns is
`<reseller_prefix><account>` (`AUTH_test`). Roles are `.admin` (owns its account) and
`.reseller_admin` (may act on every account).

Usage from another service (this module only needs the standard library):

    from common.tokens import verify_token
    info = verify_token(request.headers.get("X-Auth-Token", ""), secret)
    if info is None: -> 401
    info.account, info.user, info.roles, info.expires, info.is_admin, info.is_reseller_admin
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

TOKEN_PREFIX = "BRM_"
ADMIN_ROLE = ".admin"
RESELLER_ADMIN_ROLE = ".reseller_admin"
MAX_TOKEN_LENGTH = 4096


@dataclass(frozen=True)
class TokenInfo:
    """What a valid token says about its bearer."""

    account: str
    user: str
    roles: tuple[str, ...]
    expires: float
    user_id: str = ""  # the identity store's user id ("" for a [users] table token)
    issued_at: float = 0.0
    project_roles: tuple[str, ...] = ()  # Keystone roles (a store-issued token only)

    @property
    def is_admin(self) -> bool:
        """Owner of its own account."""
        return ADMIN_ROLE in self.roles

    @property
    def is_reseller_admin(self) -> bool:
        """Cloud admin: may act on every account."""
        return RESELLER_ADMIN_ROLE in self.roles

    def account_id(self, reseller_prefix: str = "AUTH_") -> str:
        return reseller_prefix + self.account


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(secret: str | bytes, signed_part: str) -> bytes:
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, signed_part.encode("ascii"), hashlib.sha256).digest()


def issue_token(
    secret: str | bytes,
    account: str,
    user: str,
    roles: list[str] | tuple[str, ...] = (),
    life_seconds: float = 86400.0,
    now: float | None = None,
    user_id: str = "",
    project_roles: list[str] | tuple[str, ...] = (),
) -> tuple[str, TokenInfo]:
    """Create a token valid for `life_seconds`; returns (token, TokenInfo). `user_id` (the
    identity store's) also records the issue time, for revocation events to match, and the
    user's Keystone `project_roles`."""
    issued = time.time() if now is None else now
    expires = int(issued + life_seconds)
    fields = {"a": account, "u": user, "r": list(roles), "e": expires}
    if user_id:
        fields.update(i=user_id, t=issued, k=list(project_roles))
    payload = json.dumps(
        fields,
        separators=(",", ":"),
        ensure_ascii=True,
    ).encode("ascii")
    signed_part = TOKEN_PREFIX + _b64encode(payload)
    token = signed_part + "." + _b64encode(_sign(secret, signed_part))
    if not user_id:
        return token, TokenInfo(account, user, tuple(roles), float(expires))
    return token, TokenInfo(account, user, tuple(roles), float(expires), user_id, issued,
                            tuple(project_roles))


def verify_token(
    token: str | None, secret: str | bytes, now: float | None = None
) -> TokenInfo | None:
    """Return the token's TokenInfo when it is well formed, correctly signed and unexpired."""
    if not token or len(token) > MAX_TOKEN_LENGTH or not token.startswith(TOKEN_PREFIX):
        return None
    signed_part, dot, signature_text = token.rpartition(".")
    if not dot or not signed_part:
        return None
    try:
        signature = _b64decode(signature_text)
        expected = _sign(secret, signed_part)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        data = json.loads(_b64decode(signed_part[len(TOKEN_PREFIX) :]))
        account, user, roles, expires = data["a"], data["u"], data["r"], data["e"]
        user_id, issued_at = data.get("i", ""), data.get("t", 0.0)
        project_roles = data.get("k", [])
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError):
        return None
    if not isinstance(account, str) or not isinstance(user, str):
        return None
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        return None
    if not isinstance(expires, int | float) or not isinstance(issued_at, int | float):
        return None
    if not isinstance(user_id, str) or not isinstance(project_roles, list) \
            or not all(isinstance(r, str) for r in project_roles):
        return None
    if expires <= (time.time() if now is None else now):
        return None
    return TokenInfo(account, user, tuple(roles), float(expires), user_id, float(issued_at),
                     tuple(project_roles))
