"""Who may do what in the identity API: Keystone's default rules, reduced to three roles.

`admin` (held on any project or domain the token is scoped to) administers the whole cloud:
domains, projects, users, roles and assignments. Everyone else sees and changes only
themselves: their own user record, their projects, their password, their application
credentials. A token obtained with a restricted application credential may not manage
application credentials.
"""
from __future__ import annotations

from common.http_errors import HTTPError
from identity.tokens import ValidToken

FORBIDDEN = "You are not authorized to perform the requested action."


def require_admin(caller: ValidToken) -> None:
    if not caller.is_admin:
        raise HTTPError(403, FORBIDDEN)


def require_admin_or_self(caller: ValidToken, user_id: str) -> None:
    if caller.is_admin or caller.user["id"] == user_id:
        return
    raise HTTPError(403, FORBIDDEN)


def require_self(caller: ValidToken, user_id: str) -> None:
    if caller.user["id"] != user_id:
        raise HTTPError(403, FORBIDDEN)


def require_app_cred_manager(caller: ValidToken, user_id: str) -> None:
    """Own credentials only, and not with a restricted application credential's token."""
    require_admin_or_self(caller, user_id)
    cred = caller.app_cred
    if cred is not None and not cred["unrestricted"]:
        raise HTTPError(403, FORBIDDEN)


def may_see_project(caller: ValidToken, project_id: str) -> bool:
    return caller.is_admin or caller.claims.project_id == project_id


def may_see_domain(caller: ValidToken, domain_id: str) -> bool:
    return (caller.is_admin or caller.claims.domain_id == domain_id
            or caller.user["domain_id"] == domain_id)
