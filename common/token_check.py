"""Who is calling: a request's `X-Auth-Token` checked locally, whichever kind it is.

Every public service but the identity service itself accepts two kinds of token:

- a **Keystone token** (`common.token_format`, Fernet) issued by the identity service: its
  project scope and role names are in the token; revoked ones are known from the revocation
  events that `common.revocation.IdentityPoller` polls when `revocation_url` is set;
- a **Swift v1 token** (`common.tokens`, `BRM_...`) issued by the proxy's `/auth/v1.0`: its
  account is the project, and its flags map to roles as the identity store was seeded
  (`.reseller_admin` -> admin, `.admin` -> member, no flag -> reader). One the proxy issued
  after checking the password with the identity service carries the user's id, issue time
  and Keystone roles: the same revocation events (a disabled or deleted user, a changed
  password, a disabled project) refuse it too, and its roles are the Keystone ones (so the
  services' own user, `admin` of project `service`, is an admin here with either token).
  `Requester.v1_flags` keeps its flags (None for a Keystone token): the proxy gives them
  Swift's tempauth meaning.

Roles imply the lesser ones as Keystone's defaults do (admin > member > reader), so a
`Requester` always carries the full set. Only project-scoped tokens name a requester: a
domain-scoped or unscoped Keystone token is refused like a bad one (None).

`TOKEN_CHECK_OPTIONS` are the options a service adds to its own config section;
`TokenChecker.from_values(values, token_secret, where)` builds the checker from them.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from common import tokens
from common.config import ConfigError, Option, positive_float, positive_int
from common.revocation import IdentityPoller, RevocationList
from common.token_format import (
    TokenClaims,
    fernet_of,
    key_from_secret,
    read_key_file,
    verify_token,
)

ROLE_ORDER = ("reader", "member", "admin")  # each implies those before it

TOKEN_CHECK_OPTIONS = [
    Option("token_key_file", str, "",
           help="the identity service's Fernet key file; empty = derived from token_secret"),
    Option("revocation_url", str, "", help="identity service polled for revoked tokens"),
    Option("revocation_user", str, ""),
    Option("revocation_password", str, "", secret=True),
    Option("revocation_project", str, "service"),
    Option("revocation_domain", str, "Default"),
    Option("revocation_poll_interval", positive_float, 10.0),
    Option("revocation_keep", positive_int, 86400),
]


class RoleHolder:
    """What a set of `roles` (implied ones included) allows; each service's caller type
    inherits it, so the meaning of the roles is written once."""

    roles: frozenset

    @property
    def is_admin(self) -> bool:
        return "admin" in self.roles

    @property
    def can_write(self) -> bool:
        return "member" in self.roles or self.is_admin


@dataclass(frozen=True)
class Requester(RoleHolder):
    """The bearer of a valid project-scoped token."""

    user_id: str
    project_id: str
    roles: frozenset
    v1_flags: tuple[str, ...] | None = None  # a Swift v1 token's account flags
    user_name: str = ""  # known for a Swift v1 token only


def with_implied(roles) -> frozenset:
    """`roles` plus every role a listed one implies (admin -> member -> reader)."""
    found = set(roles)
    for rank, role in enumerate(ROLE_ORDER):
        if role in found:
            found.update(ROLE_ORDER[:rank])
    return frozenset(found)


def v1_roles(flags) -> frozenset:
    """The roles of a Swift v1 token's account flags."""
    if tokens.RESELLER_ADMIN_ROLE in flags:
        return with_implied(["admin"])
    if tokens.ADMIN_ROLE in flags:
        return with_implied(["member"])
    return frozenset(["reader"])


def v1_claims(info: tokens.TokenInfo) -> TokenClaims:
    """A store-issued Swift v1 token as Keystone claims, for revocation events to match
    (by user or project: it has no audit id)."""
    return TokenClaims(info.user_id, ("password",), "project", info.account, info.issued_at,
                       info.expires, ())


def load_fernet(token_key_file: str, token_secret: str, where: str):
    """The Fernet keys of `token_key_file`, or the key derived from `token_secret`."""
    if not token_key_file:
        return fernet_of([key_from_secret(token_secret)])
    try:
        return fernet_of(read_key_file(token_key_file))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{where} token_key_file {token_key_file}: {exc}") from None


# (requester, the claims revocation events are matched against or None, expiry time)
Verified = tuple[Requester, TokenClaims | None, float]


class TokenChecker:
    """Checks tokens of both kinds; `poller` (or None) keeps `revocations` current.

    A token's signature is checked once: the requester it names is remembered (up to
    `remembered` tokens, the oldest forgotten first) until the token expires. Revocation is
    asked on every request, so a revoked token is refused as soon as the event is known."""

    def __init__(self, v1_secret: str, fernet, revocations: RevocationList,
                 poller: IdentityPoller | None = None, poll_interval: float = 10.0,
                 remembered: int = 4096):
        self.v1_secret = v1_secret
        self.fernet = fernet
        self.revocations = revocations
        self.poller = poller
        self.poll_interval = poll_interval
        self.remembered = remembered
        self._verified: dict[str, Verified] = {}

    @classmethod
    def from_values(cls, values: dict, token_secret: str, where: str) -> TokenChecker:
        """From a config section holding TOKEN_CHECK_OPTIONS; `where` prefixes errors."""
        url = values["revocation_url"].rstrip("/")
        if url and not url.startswith(("http://", "https://")):
            raise ConfigError(f"{where} revocation_url must be an http(s) URL")
        if url and not (values["revocation_user"] and values["revocation_password"]):
            raise ConfigError(f"{where} revocation_url needs revocation_user and "
                              "revocation_password (an admin of the identity service)")
        revocations = RevocationList(values["revocation_keep"])
        poller = None
        if url:
            poller = IdentityPoller(url, values["revocation_user"],
                                    values["revocation_password"],
                                    values["revocation_project"],
                                    values["revocation_domain"], revocations)
        fernet = load_fernet(values["token_key_file"], token_secret, where)
        return cls(token_secret, fernet, revocations, poller,
                   values["revocation_poll_interval"])

    def start(self, spawn, sleep) -> None:
        """Start polling revocation events in a green thread, when configured to."""
        if self.poller is not None:
            spawn(self.poller.run, self.poll_interval, sleep)

    def requester(self, token: str | None, now: float | None = None) -> Requester | None:
        """Who bears `token`, or None when it is missing, bad, expired, revoked or unscoped."""
        if not token:
            return None
        now = time.time() if now is None else now
        verified = self._verified.get(token)
        if verified is None or now >= verified[2]:
            self._verified.pop(token, None)
            verified = self._verify(token, now)
            if verified is None:
                return None
            if len(self._verified) >= self.remembered:
                self._verified.pop(next(iter(self._verified)))
            self._verified[token] = verified
        requester, claims, _expires = verified
        if claims is not None and self.revocations.revoked(claims):
            return None
        return requester

    def _verify(self, token: str, now: float) -> Verified | None:
        """The signature and expiry checked: whom the token names, or None."""
        if token.startswith(tokens.TOKEN_PREFIX):
            info = tokens.verify_token(token, self.v1_secret, now)
            if info is None:
                return None
            roles = with_implied(info.project_roles) if info.user_id else v1_roles(info.roles)
            return (Requester(info.user_id or info.user, info.account, roles, info.roles,
                              info.user),
                    v1_claims(info) if info.user_id else None, info.expires)
        claims = verify_token(token, self.fernet, now)
        if claims is None or not claims.project_id:
            return None
        return (Requester(claims.user_id, claims.project_id, with_implied(claims.roles)),
                claims, claims.expires_at)
