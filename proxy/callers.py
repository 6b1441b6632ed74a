"""Who a token's bearer is to the object store: the `Caller` the proxy's authorization reads.

`caller_of(requester, admin_projects)` turns a checked token (`common.token_check.Requester`)
into what Swift's decisions need, with no IO:

- a **Swift v1 token** keeps tempauth's meaning: `.admin` owns `AUTH_<account>`,
  `.reseller_admin` reaches every account, a user with neither flag only what ACLs grant;
- a **Keystone token** for project P (`AUTH_<P's id>`): `member` (or `admin`) of P owns the
  account; `reader` may read it (GET/HEAD, like the `read-only` account ACL level); `admin`
  in one of `admin_projects` (ids: the cloud admin's project, and the services' project,
  whose user the image service stores as, in an account of its own if configured so) is a
  reseller admin.

ACL groups (container `X-Container-Read/Write`, `X-Account-Access-Control`) a caller belongs
to: its project (`P`, tempauth's bare account group), `P:<user id>`, `P:*`, `*:<user id>`
and `*:*` (Swift keystoneauth's wildcards) and, for a v1 token, `P:<user name>` (tempauth's
`account:user`). For a Keystone caller of the default domain, `proxy.identity_names` adds
the names keystoneauth allows (`with_names`: `<project name>:<user name>`, a name mixed with
an id or `*`). The all-in-one seeds its SAIO users with ids equal to their names, so
`test:tester3` names that user whichever kind of token they bring.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass, replace

from common.token_check import Requester
from common.tokens import ADMIN_ROLE, RESELLER_ADMIN_ROLE


@dataclass(frozen=True)
class Caller:
    project_id: str  # the account is <reseller prefix><project_id>
    user_id: str
    owner: bool  # full rights in its own account
    reader: bool  # may read its own account
    is_reseller_admin: bool  # every account
    groups: frozenset[str]
    named: bool = False  # its groups hold its names already (a v1 token, or looked up)


def acl_groups(project_id: str, user_id: str, user_name: str = "") -> frozenset[str]:
    found = {project_id, f"{project_id}:{user_id}", f"{project_id}:*", f"*:{user_id}", "*:*"}
    if user_name:
        found.add(f"{project_id}:{user_name}")
    return frozenset(found)


@functools.lru_cache(maxsize=4096)  # a remembered token's Requester comes back each request
def caller_of(requester: Requester, admin_projects: frozenset) -> Caller:
    project, user = requester.project_id, requester.user_id
    groups = acl_groups(project, user, requester.user_name)
    if requester.v1_flags is not None:
        reseller = RESELLER_ADMIN_ROLE in requester.v1_flags
        owner = reseller or ADMIN_ROLE in requester.v1_flags
        # A [users] table token's names are its ids; a store-issued one's project is an id.
        named = requester.user_id == requester.user_name
        return Caller(project, user, owner, owner, reseller, groups, named=named)
    roles = requester.roles
    owner = "member" in roles or "admin" in roles
    reseller = "admin" in roles and project in admin_projects
    return Caller(project, user, owner, owner or "reader" in roles, reseller, groups)


def with_names(caller: Caller, project_name: str, user_name: str) -> Caller:
    """`caller` also known by its project's and user's names (keystoneauth's combinations)."""
    projects = (caller.project_id, project_name, "*")
    users = (caller.user_id, user_name, "*")
    extra = {f"{project}:{user}" for project in projects for user in users}
    return replace(caller, groups=caller.groups | extra | {project_name}, named=True)
