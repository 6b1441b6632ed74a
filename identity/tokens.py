"""Issuing tokens, and validating them against the identity store.

`TokenService` holds the Fernet keys (`[identity] token_key_file`, created with one fresh key
when missing; else a key derived from `token_secret`), issues tokens and validates them. A
token the signature and clock accept (`common.token_format`) is still refused here when a
revocation event matches it, its user or their domain is gone or disabled, its project or
domain is gone or disabled, the user holds no role there any more, or its application
credential is gone or expired. The roles a valid token reports are the ones in force now.
Revocation events older than any live token are dropped at start and at each revocation.
"""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass

from cryptography.fernet import Fernet

from common.config import ConfigError
from common.token_format import (
    TokenClaims,
    encode_token,
    fernet_of,
    key_from_secret,
    read_key_file,
    verify_token,
)
from identity import app_creds, assignments, directory, revocations
from identity.config import IdentityConfig


@dataclass
class ValidToken:
    """A token that passed every check, with the records it refers to."""

    token: str
    claims: TokenClaims
    user: dict
    user_domain: dict
    project: dict | None
    domain: dict | None
    roles: list[dict]
    app_cred: dict | None
    project_domain: dict | None = None

    @property
    def role_names(self) -> set[str]:
        return {role["name"] for role in self.roles}

    @property
    def is_admin(self) -> bool:
        return "admin" in self.role_names


def load_keys(config: IdentityConfig) -> list[bytes]:
    path = config.token_key_file
    if not path:
        return [key_from_secret(config.token_secret)]
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process made it first
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(Fernet.generate_key().decode() + "\n")
                handle.flush()
                os.fsync(handle.fileno())
    try:
        return read_key_file(path)
    except (OSError, ValueError) as exc:
        raise ConfigError(f"[identity] token_key_file {path}: {exc}") from None


class TokenService:
    def __init__(self, config: IdentityConfig, store):
        self.config = config
        self.store = store
        self.fernet = fernet_of(load_keys(config))

    def issue(self, user_id: str, methods: list[str], scope_kind: str | None,
              scope_id: str | None, role_names: list[str], expires_at: float | None = None,
              parent_audit_id: str | None = None,
              app_cred_id: str | None = None) -> tuple[str, TokenClaims]:
        now = time.time()
        limit = now + self.config.token_expiration
        expires = limit if expires_at is None else min(expires_at, limit)
        audit_ids = [secrets.token_urlsafe(16)]
        if parent_audit_id:
            audit_ids.append(parent_audit_id)
        claims = TokenClaims(user_id, tuple(methods), scope_kind, scope_id, now, expires,
                             tuple(audit_ids), tuple(sorted(role_names)), app_cred_id)
        return encode_token(claims, self.fernet), claims

    def prune_revocations(self) -> None:
        """Drop events older than any live token (twice the token lifetime, for margin)."""
        with self.store.write() as conn:
            revocations.prune(conn, time.time() - 2 * self.config.token_expiration - 60)

    def validate(self, token: str) -> ValidToken | None:
        """The token's records when it is valid now; None otherwise (a 401 or a 404)."""
        claims = verify_token(token, self.fernet)
        if claims is None or revocations.revoked(self.store, claims):
            return None
        user = directory.get_user(self.store, claims.user_id)
        if user is None or not user["enabled"]:
            return None
        user_domain = directory.get_domain(self.store, user["domain_id"])
        if user_domain is None or not user_domain["enabled"]:
            return None
        project = domain = cred = owner = None
        roles: list[dict] = []
        if claims.scope_kind == "project":
            project = directory.get_project(self.store, claims.scope_id)
            if project is None or not project["enabled"]:
                return None
            owner = directory.get_domain(self.store, project["domain_id"])
            if owner is None or not owner["enabled"]:
                return None
            roles = assignments.roles_on(self.store, user["id"], "project", project["id"])
        elif claims.scope_kind == "domain":
            domain = directory.get_domain(self.store, claims.scope_id)
            if domain is None or not domain["enabled"]:
                return None
            roles = assignments.roles_on(self.store, user["id"], "domain", domain["id"])
        if claims.app_cred_id is not None:
            cred = app_creds.get(self.store, claims.app_cred_id)
            if cred is None or (cred["expires_at"] is not None
                                and cred["expires_at"] <= time.time()):
                return None
            allowed = set(app_creds.role_ids(cred))
            roles = [role for role in roles if role["id"] in allowed]
        if claims.scope_kind is not None and not roles:
            return None
        return ValidToken(token, claims, user, user_domain, project, domain, roles, cred, owner)
