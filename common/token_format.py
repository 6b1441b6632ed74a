"""Fernet tokens: their keys, their payload, and local verification by any service.

A token is a Fernet token (AES-128-CBC + HMAC-SHA256, from `cryptography`) without its `=`
padding, whose plaintext is a msgpack list:

    [1, user_id, methods, scope_kind, scope_id, issued_at, expires_at, audit_ids, roles,
     app_cred_id]

`scope_kind` is "project", "domain" or None (unscoped); times are Unix seconds; `roles` are
role names (so a service can authorize without asking the identity service). Whoever holds
the keys can check a token alone: `verify_token(text, keys)` gives the `TokenClaims` of a
well-signed, unexpired token, else None. Revocation is a list of `RevocationEvent`s (a token's
audit id; a user's, project's or application credential's tokens issued before a time) that
`is_revoked` matches against the claims; the identity service keeps them and serves them.

It lives in common/ and imports only the standard library, `cryptography` and `msgpack`:
the identity service issues tokens with it, every other service verifies them with it.
"""
from __future__ import annotations

import base64
import hashlib
import time
from dataclasses import dataclass

import msgpack
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

PAYLOAD_VERSION = 1
MAX_TOKEN_LENGTH = 2048
SCOPES = ("project", "domain", None)


@dataclass(frozen=True)
class TokenClaims:
    """What a valid token says about its bearer."""

    user_id: str
    methods: tuple[str, ...]
    scope_kind: str | None  # "project", "domain" or None
    scope_id: str | None
    issued_at: float
    expires_at: float
    audit_ids: tuple[str, ...]
    roles: tuple[str, ...] = ()
    app_cred_id: str | None = None

    @property
    def project_id(self) -> str | None:
        return self.scope_id if self.scope_kind == "project" else None

    @property
    def domain_id(self) -> str | None:
        return self.scope_id if self.scope_kind == "domain" else None

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles


@dataclass(frozen=True)
class RevocationEvent:
    """Tokens matching every field set here, issued at or before `issued_before`, are dead."""

    issued_before: float
    audit_id: str | None = None
    user_id: str | None = None
    project_id: str | None = None
    app_cred_id: str | None = None


def key_from_secret(secret: str) -> bytes:
    """A Fernet key derived from a shared secret string (development and all-in-one)."""
    digest = hashlib.sha256(b"brume-identity-fernet-v1\0" + secret.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest)


def read_key_file(path: str) -> list[bytes]:
    """Fernet keys, one per line (first signs, all verify); ValueError when there are none
    or one is malformed."""
    with open(path, encoding="ascii") as handle:
        keys = [line.strip().encode() for line in handle
                if line.strip() and not line.startswith("#")]
    if not keys:
        raise ValueError(f"{path}: no key in the file")
    for key in keys:
        Fernet(key)  # raises ValueError on a malformed key
    return keys


def fernet_of(keys: list[bytes]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def encode_token(claims: TokenClaims, fernet: MultiFernet) -> str:
    payload = msgpack.packb([
        PAYLOAD_VERSION, claims.user_id, list(claims.methods), claims.scope_kind,
        claims.scope_id, claims.issued_at, claims.expires_at, list(claims.audit_ids),
        list(claims.roles), claims.app_cred_id,
    ])
    return fernet.encrypt(payload).decode("ascii").rstrip("=")


def _text_list(value) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("not a list of strings")
    return tuple(value)


def decode_token(token: str, fernet: MultiFernet) -> TokenClaims | None:
    """The claims of a well-signed token (expired or not); None for anything else."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH \
            or not token.isascii():
        return None
    padded = token + "=" * (-len(token) % 4)
    try:
        payload = fernet.decrypt(padded.encode("ascii"))
        fields = msgpack.unpackb(payload)
    except (InvalidToken, ValueError, TypeError, msgpack.UnpackException):
        return None
    try:
        (version, user_id, methods, scope_kind, scope_id, issued_at, expires_at, audit_ids,
         roles, app_cred_id) = fields
        if version != PAYLOAD_VERSION or not isinstance(user_id, str) \
                or scope_kind not in SCOPES:
            return None
        return TokenClaims(user_id, _text_list(methods), scope_kind, scope_id,
                           float(issued_at), float(expires_at), _text_list(audit_ids),
                           _text_list(roles), app_cred_id)
    except (ValueError, TypeError):
        return None


def verify_token(token: str, fernet: MultiFernet, now: float | None = None) -> TokenClaims | None:
    """The claims of a well-signed, unexpired token; None otherwise (revocation aside)."""
    claims = decode_token(token, fernet)
    if claims is None:
        return None
    if (time.time() if now is None else now) >= claims.expires_at:
        return None
    return claims


def is_revoked(claims: TokenClaims, events) -> bool:
    """Whether any of `events` (RevocationEvents) matches the token."""
    for event in events:
        if claims.issued_at > event.issued_before:
            continue
        if event.audit_id is not None and event.audit_id not in claims.audit_ids[:1]:
            continue
        if event.user_id is not None and event.user_id != claims.user_id:
            continue
        if event.project_id is not None and event.project_id != claims.project_id:
            continue
        if event.app_cred_id is not None and event.app_cred_id != claims.app_cred_id:
            continue
        return True
    return False
