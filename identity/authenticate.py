"""`POST /v3/auth/tokens`'s work: check the identity methods, then resolve the scope.

Methods: `password` (user by id, or by name and domain id/name), `token` (an existing valid
token: same user, its expiry kept, its audit id chained) and `application_credential` (by id,
or by name and user, with its secret; the token is scoped to the credential's project with its
roles). Several methods in one request must all name the same user. Any failure to
authenticate is the same 401 (no hint whether the user exists); a malformed request is a 400.

Scope: an explicit `project` (id, or name and domain) or `domain`, the string `"unscoped"`,
or nothing (the user's default project when they hold a role there, else unscoped). A scope
the user holds no role on is a 401, as in Keystone.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

from common.http_errors import HTTPError
from identity import app_creds, assignments, directory
from identity.web import obj, text, unauthorized

METHODS = ("password", "token", "application_credential")


@dataclass
class Authenticated:
    user: dict
    methods: list[str]
    expires_at: float | None = None
    parent_audit_id: str | None = None
    app_cred: dict | None = None
    from_app_cred_token: bool = False
    password_checked: bool = False
    notes: list = field(default_factory=list)


def _domain_ref(service, ref: dict, where: str) -> dict:
    """A domain named by `{"id": ...}` or `{"name": ...}`; 401 when there is none."""
    domain_id = text(ref, "id", where=where)
    if domain_id is not None:
        found = directory.get_domain(service.store, domain_id)
    else:
        name = text(ref, "name", required=True, where=where)
        found = directory.domain_by_name(service.store, name)
    if found is None or not found["enabled"]:
        raise unauthorized()
    return found


def _user_ref(service, ref: dict) -> dict | None:
    """The user named by `{"id"}` or `{"name", "domain"}`; None when there is none."""
    user_id = text(ref, "id", where="user.")
    if user_id is not None:
        return directory.get_user(service.store, user_id)
    name = text(ref, "name", required=True, where="user.")
    domain = _domain_ref(service, obj(ref, "domain", required=True), "user.domain.")
    return directory.user_by_name(service.store, domain["id"], name)


def _usable(service, user: dict | None) -> dict:
    if user is None or not user["enabled"]:
        raise unauthorized()
    domain = directory.get_domain(service.store, user["domain_id"])
    if domain is None or not domain["enabled"]:
        raise unauthorized()
    return user


def _password(service, doc: dict) -> Authenticated:
    user_ref = obj(doc, "user", required=True)
    password = text(user_ref, "password", required=True, where="user.",
                    max_len=service.config.max_password_length)
    user = _user_ref(service, user_ref)
    stored = user["password_hash"] if user is not None else None
    if not service.hasher.verify(stored, password):
        raise unauthorized()
    return Authenticated(_usable(service, user), ["password"], password_checked=True)


def _token(service, doc: dict) -> Authenticated:
    token = text(doc, "id", required=True, max_len=4096, where="token.")
    valid = service.tokens.validate(token)
    if valid is None:
        raise unauthorized()
    methods = list(valid.claims.methods)
    if "token" not in methods:
        methods.insert(0, "token")
    return Authenticated(valid.user, methods, expires_at=valid.claims.expires_at,
                         parent_audit_id=valid.claims.audit_ids[0],
                         app_cred=valid.app_cred,
                         from_app_cred_token=valid.claims.app_cred_id is not None)


def _application_credential(service, doc: dict) -> Authenticated:
    secret = text(doc, "secret", required=True, max_len=4096,
                  where="application_credential.")
    cred_id = text(doc, "id", where="application_credential.")
    if cred_id is not None:
        cred = app_creds.get(service.store, cred_id)
    else:
        name = text(doc, "name", required=True, where="application_credential.")
        user = _user_ref(service, obj(doc, "user", required=True))
        cred = app_creds.by_name(service.store, user["id"], name) if user else None
    stored = cred["secret_hash"] if cred is not None else None
    if not service.hasher.verify(stored, secret):
        raise unauthorized()
    if cred["expires_at"] is not None and cred["expires_at"] <= time.time():
        raise unauthorized()
    user = _usable(service, directory.get_user(service.store, cred["user_id"]))
    return Authenticated(user, ["application_credential"], expires_at=cred["expires_at"],
                         app_cred=cred)


HANDLERS = {"password": _password, "token": _token,
            "application_credential": _application_credential}


def authenticate(service, identity: dict) -> Authenticated:
    methods = identity.get("methods")
    if not isinstance(methods, list) or not methods or \
            not all(isinstance(m, str) for m in methods) or len(methods) > len(METHODS):
        raise HTTPError(400, "Invalid input for field 'identity.methods': expected a "
                             "non-empty list of method names")
    result = None
    for method in dict.fromkeys(methods):
        if method not in HANDLERS:
            raise unauthorized(f"Attempted to authenticate with an unsupported method: "
                               f"{method[:40]!r}")
        found = HANDLERS[method](service, obj(identity, method, required=True))
        if result is None:
            result = found
        elif found.user["id"] != result.user["id"]:
            raise unauthorized()
        else:
            result.methods += [m for m in found.methods if m not in result.methods]
            result.app_cred = result.app_cred or found.app_cred
            if found.expires_at is not None:
                result.expires_at = min(filter(None, (result.expires_at, found.expires_at)))
    return result


def resolve_scope(service, scope, auth: Authenticated) -> tuple[str | None, str | None,
                                                                 list[dict]]:
    """(scope kind, scope id, roles) for the token; 401 when the user may not have it."""
    store = service.store
    user = auth.user
    cred = auth.app_cred
    if cred is not None:
        if scope not in (None, "unscoped") and not _names_project(service, scope,
                                                                  cred["project_id"]):
            raise unauthorized("An application credential token is scoped to its project.")
        project = directory.get_project(store, cred["project_id"])
        return "project", project["id"], _project_roles(service, user, project, cred)
    if scope == "unscoped":
        return None, None, []
    if scope is None:
        default = user["default_project_id"]
        project = directory.get_project(store, default) if default else None
        if project is not None and project["enabled"] and \
                assignments.roles_on(store, user["id"], "project", project["id"]):
            return "project", project["id"], _project_roles(service, user, project, None)
        return None, None, []
    if not isinstance(scope, dict) or len(scope) != 1:
        raise HTTPError(400, "Invalid input for field 'scope': expected one of project, "
                             "domain or \"unscoped\"")
    if "system" in scope:
        raise HTTPError(400, "System scope is not supported; scope to a project or domain.")
    if "project" in scope:
        project = _project_ref(service, obj(scope, "project", required=True))
        return "project", project["id"], _project_roles(service, user, project, None)
    if "domain" in scope:
        domain = _domain_ref(service, obj(scope, "domain", required=True), "scope.domain.")
        roles = assignments.roles_on(store, user["id"], "domain", domain["id"])
        if not roles:
            raise unauthorized("User has no access to domain.")
        return "domain", domain["id"], roles
    raise HTTPError(400, "Invalid input for field 'scope': expected project or domain")


def _project_ref(service, ref: dict) -> dict:
    project_id = text(ref, "id", where="scope.project.")
    if project_id is not None:
        project = directory.get_project(service.store, project_id)
    else:
        name = text(ref, "name", required=True, where="scope.project.")
        domain = _domain_ref(service, obj(ref, "domain", required=True),
                             "scope.project.domain.")
        project = directory.project_by_name(service.store, domain["id"], name)
    if project is None or not project["enabled"]:
        raise unauthorized("User has no access to project.")
    owner = directory.get_domain(service.store, project["domain_id"])
    if owner is None or not owner["enabled"]:
        raise unauthorized("User has no access to project.")
    return project


def _names_project(service, scope, project_id: str) -> bool:
    if not isinstance(scope, dict) or not isinstance(scope.get("project"), dict):
        return False
    try:
        return _project_ref(service, scope["project"])["id"] == project_id
    except HTTPError:
        return False


def _project_roles(service, user: dict, project: dict, cred: dict | None) -> list[dict]:
    roles = assignments.roles_on(service.store, user["id"], "project", project["id"])
    if cred is not None:
        allowed = set(app_creds.role_ids(cred))
        roles = [role for role in roles if role["id"] in allowed]
    if not roles:
        raise unauthorized("User has no access to project.")
    return roles
