"""Account ACLs (`X-Account-Access-Control`): who besides the owner may use an account.

The value is a JSON object with up to three keys, each a list of the groups it grants
(`account` or `account:user`, the names the auth middleware gives a token's bearer):

- `read-only`: GET/HEAD of the account, its containers and objects;
- `read-write`: also PUT/POST/DELETE of containers and objects (not the account itself,
  and not the owner-only headers: ACLs, temp URL keys);
- `admin`: everything the account's owner may do (setting this ACL included).

An account owner sets it with a POST to the account; it is stored as account sysmeta
(`SYSMETA_HEADER`) and shown, as `X-Account-Access-Control`, only to those who may change it.
`clean_account_acl` validates and normalises a header value (compact JSON, keys sorted);
`parse_account_acl` reads a stored one; `access_level` names the highest level a set of
groups holds. Pure functions, no IO.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from common.constraints import MAX_HEADER_SIZE
from common.untrusted_json import UntrustedJSONError, parse_untrusted_json
from proxy.acl import AclError

ACCESS_HEADER = "x-account-access-control"
SYSMETA_HEADER = "x-account-sysmeta-core-access-control"
READ_ONLY, READ_WRITE, ADMIN = "read-only", "read-write", "admin"
LEVELS = (READ_ONLY, READ_WRITE, ADMIN)  # lowest first


@dataclass(frozen=True)
class AccountAcl:
    read_only: frozenset[str] = frozenset()
    read_write: frozenset[str] = frozenset()
    admin: frozenset[str] = frozenset()


NO_ACCOUNT_ACL = AccountAcl()


def clean_account_acl(value: str) -> str:
    """The normal form of an `X-Account-Access-Control` value ('' for no grant at all);
    raises AclError (one line) when it is not acceptable."""
    if len(value.encode("utf-8", "surrogateescape")) > MAX_HEADER_SIZE:
        raise AclError(f"X-Account-Access-Control longer than {MAX_HEADER_SIZE} bytes")
    try:
        document = parse_untrusted_json(value.encode("utf-8", "surrogateescape"))
    except UntrustedJSONError as exc:
        raise AclError(f"X-Account-Access-Control is not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise AclError("X-Account-Access-Control must be a JSON object")
    for key, groups in document.items():
        if key not in LEVELS:
            raise AclError(f"X-Account-Access-Control: unknown key {key[:40]!r}; "
                           f"expected {', '.join(LEVELS)}")
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise AclError(f"X-Account-Access-Control: {key} must be a list of strings")
    if not any(document.values()):
        return ""
    return json.dumps(document, separators=(",", ":"), sort_keys=True)


def parse_account_acl(stored: str | None) -> AccountAcl:
    """The ACL of a stored (already cleaned) value; anything unreadable grants nothing."""
    if not stored:
        return NO_ACCOUNT_ACL
    try:
        document = json.loads(stored)
    except ValueError:
        return NO_ACCOUNT_ACL
    if not isinstance(document, dict):
        return NO_ACCOUNT_ACL

    def groups(key: str) -> frozenset[str]:
        value = document.get(key)
        if not isinstance(value, list):
            return frozenset()
        return frozenset(item for item in value if isinstance(item, str))

    return AccountAcl(groups(READ_ONLY), groups(READ_WRITE), groups(ADMIN))


def access_level(acl: AccountAcl, groups: set[str]) -> str | None:
    """The highest level `groups` hold in `acl` (ADMIN, READ_WRITE, READ_ONLY) or None."""
    if not groups:
        return None
    if acl.admin & groups:
        return ADMIN
    if acl.read_write & groups:
        return READ_WRITE
    if acl.read_only & groups:
        return READ_ONLY
    return None


def level_allows(level: str | None, method: str, container: str | None) -> bool:
    """Whether an account ACL level alone allows `method` (account PUT/DELETE never)."""
    if level is None:
        return False
    if method in ("GET", "HEAD", "OPTIONS"):
        return True
    if container is None:
        return level == ADMIN and method == "POST"
    return level in (READ_WRITE, ADMIN)
