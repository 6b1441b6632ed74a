"""`/v3/roles` (admins create, update, delete; everyone may list and show) and role
assignments: `PUT/HEAD/GET/DELETE /v3/{projects|domains}/{id}/users/{user}/roles/{role}` and
`GET /v3/role_assignments` with Keystone's filters.

Removing an assignment (or a role) ends the user's tokens on that scope at once (revocation
events), so a role taken away is not kept until the token expires.
"""
from __future__ import annotations

from common.http_errors import HTTPError
from identity import assignments, directory, policy, revocations, views
from identity.store import Duplicate
from identity.web import (
    MAX_TEXT,
    collection_links,
    empty_response,
    json_body,
    json_response,
    not_found,
    query,
    text,
)

TARGETS = {"projects": ("project", directory.get_project),
           "domains": ("domain", directory.get_domain)}


def _get(service, role_id: str) -> dict:
    row = assignments.get_role(service.store, role_id)
    if row is None:
        raise not_found("role", role_id)
    return row


def _conflict(name: str) -> HTTPError:
    return HTTPError(409, f"Conflict occurred attempting to store role - Duplicate entry "
                          f"found with name {name[:80]}.")


def list_roles(service, req):
    service.caller(req)
    rows = assignments.list_roles(service.store, query(req).get("name"))
    return json_response({"roles": [views.role(service.base, r) for r in rows],
                          "links": collection_links(req)})


def show_role(service, req, role_id):
    service.caller(req)
    return json_response({"role": views.role(service.base, _get(service, role_id))})


def create_role(service, req):
    policy.require_admin(service.caller(req))
    doc = json_body(req, "role")
    name = text(doc, "name", required=True)
    description = text(doc, "description", default="", max_len=MAX_TEXT)
    if doc.get("domain_id") is not None:
        raise HTTPError(400, "Domain-specific roles are not supported.")
    try:
        with service.store.write() as conn:
            role_id = assignments.create_role(conn, name, description)
    except Duplicate:
        raise _conflict(name) from None
    return json_response({"role": views.role(service.base, _get(service, role_id))}, 201)


def update_role(service, req, role_id):
    policy.require_admin(service.caller(req))
    doc = json_body(req, "role")
    row = _get(service, role_id)
    changes = {}
    if "name" in doc:
        changes["name"] = text(doc, "name", required=True)
        if row["name"] in assignments.BUILTIN_ROLES and changes["name"] != row["name"]:
            raise HTTPError(403, f"The built-in role {row['name']} cannot be renamed.")
    if "description" in doc:
        changes["description"] = text(doc, "description", default="", max_len=MAX_TEXT)
    try:
        with service.store.write() as conn:
            directory.update_row(conn, "roles", role_id, changes)
    except Duplicate:
        raise _conflict(changes.get("name", "")) from None
    return json_response({"role": views.role(service.base, _get(service, role_id))})


def delete_role(service, req, role_id):
    policy.require_admin(service.caller(req))
    row = _get(service, role_id)
    if row["name"] in assignments.BUILTIN_ROLES:
        raise HTTPError(403, f"The built-in role {row['name']} cannot be deleted.")
    holders = {a["user_id"] for a in assignments.list_assignments(service.store,
                                                                  role_id=role_id)}
    with service.store.write() as conn:
        assignments.delete_role(conn, role_id)
        for user_id in holders:
            revocations.add(conn, user_id=user_id)
    return empty_response(204)


def _grant_parts(service, targets, target_id, user_id, role_id=None):
    kind, getter = TARGETS[targets]
    if getter(service.store, target_id) is None:
        raise not_found(kind, target_id)
    if directory.get_user(service.store, user_id) is None:
        raise not_found("user", user_id)
    if role_id is not None:
        _get(service, role_id)
    return kind


def put_grant(service, req, targets, target_id, user_id, role_id):
    policy.require_admin(service.caller(req))
    kind = _grant_parts(service, targets, target_id, user_id, role_id)
    with service.store.write() as conn:
        assignments.grant(conn, user_id, kind, target_id, role_id)
    return empty_response(204)


def check_grant(service, req, targets, target_id, user_id, role_id):
    caller = service.caller(req)
    policy.require_admin_or_self(caller, user_id)
    kind = _grant_parts(service, targets, target_id, user_id, role_id)
    if not assignments.has_grant(service.store, user_id, kind, target_id, role_id):
        raise HTTPError(404, "Could not find role assignment.")
    return empty_response(204)


def delete_grant(service, req, targets, target_id, user_id, role_id):
    policy.require_admin(service.caller(req))
    kind = _grant_parts(service, targets, target_id, user_id, role_id)
    with service.store.write() as conn:
        if not assignments.revoke(conn, user_id, kind, target_id, role_id):
            raise HTTPError(404, "Could not find role assignment.")
        if kind == "project":
            revocations.add(conn, user_id=user_id, project_id=target_id)
        else:
            revocations.add(conn, user_id=user_id)
    return empty_response(204)


def list_grants(service, req, targets, target_id, user_id):
    caller = service.caller(req)
    policy.require_admin_or_self(caller, user_id)
    kind = _grant_parts(service, targets, target_id, user_id)
    rows = [assignments.get_role(service.store, a["role_id"]) for a in
            assignments.list_assignments(service.store, user_id=user_id,
                                         **{f"{kind}_id": target_id})]
    return json_response({"roles": [views.role(service.base, r) for r in rows if r],
                          "links": collection_links(req)})


def list_role_assignments(service, req):
    caller = service.caller(req)
    params = query(req)
    user_id = params.get("user.id")
    if not caller.is_admin and user_id != caller.user["id"]:
        raise HTTPError(403, policy.FORBIDDEN)
    if "group.id" in params:
        return json_response({"role_assignments": [], "links": collection_links(req)})
    rows = assignments.list_assignments(
        service.store, user_id=user_id, project_id=params.get("scope.project.id"),
        domain_id=params.get("scope.domain.id"), role_id=params.get("role.id"))
    names = "include_names" in params and params["include_names"].lower() not in (
        "0", "false", "no")
    found = [_assignment(service, row, names) for row in rows]
    return json_response({"role_assignments": found, "links": collection_links(req)})


def _assignment(service, row: dict, names: bool) -> dict:
    kind = row["target_type"]
    targets = f"{kind}s"
    role = {"id": row["role_id"]}
    user = {"id": row["user_id"]}
    scope = {"id": row["target_id"]}
    if names:
        store = service.store
        role_row = assignments.get_role(store, row["role_id"]) or {}
        user_row = directory.get_user(store, row["user_id"]) or {}
        target = TARGETS[targets][1](store, row["target_id"]) or {}
        role["name"] = role_row.get("name")
        user["name"] = user_row.get("name")
        user_domain = directory.get_domain(store, user_row.get("domain_id", "")) or {}
        user["domain"] = {"id": user_row.get("domain_id"), "name": user_domain.get("name")}
        scope["name"] = target.get("name")
        if kind == "project":
            owner = directory.get_domain(store, target.get("domain_id", "")) or {}
            scope["domain"] = {"id": target.get("domain_id"), "name": owner.get("name")}
    link = (f"{service.base}/v3/{targets}/{row['target_id']}/users/{row['user_id']}/roles/"
            f"{row['role_id']}")
    return {"role": role, "user": user, "scope": {kind: scope}, "links": {"assignment": link}}
