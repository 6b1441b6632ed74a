"""`/v3/projects` (admins; others see the project their token is scoped to) and
`/v3/users/{user_id}/projects` (a user's own projects).

Names are unique within a domain (409). Disabling or deleting a project ends every token
scoped to it (a revocation event), and deleting takes its assignments and application
credentials with it.
"""
from __future__ import annotations

from common.http_errors import HTTPError
from identity import assignments, directory, policy, revocations, views
from identity.store import Duplicate
from identity.web import (
    MAX_TEXT,
    bool_filter,
    boolean,
    collection_links,
    empty_response,
    json_body,
    json_response,
    not_found,
    query,
    text,
)


def _conflict(name: str) -> HTTPError:
    return HTTPError(409, f"Conflict occurred attempting to store project - it is not "
                          f"permitted to have two projects with the same name in the same "
                          f"domain : {name[:80]}.")


def _get(service, project_id: str) -> dict:
    row = directory.get_project(service.store, project_id)
    if row is None:
        raise not_found("project", project_id)
    return row


def list_projects(service, req):
    caller = service.caller(req)
    params = query(req)
    rows = directory.list_projects(service.store, params.get("name"), params.get("domain_id"),
                                   bool_filter(params, "enabled"))
    rows = [row for row in rows if policy.may_see_project(caller, row["id"])]
    return json_response({"projects": [views.project(service.base, r) for r in rows],
                          "links": collection_links(req)})


def show_project(service, req, project_id):
    caller = service.caller(req)
    if not policy.may_see_project(caller, project_id):
        raise HTTPError(403, policy.FORBIDDEN)
    row = _get(service, project_id)
    return json_response({"project": views.project(service.base, row)})


def create_project(service, req):
    caller = service.caller(req)
    policy.require_admin(caller)
    doc = json_body(req, "project")
    name = text(doc, "name", required=True, max_len=64)
    description = text(doc, "description", default="", max_len=MAX_TEXT)
    enabled = boolean(doc, "enabled", True)
    if boolean(doc, "is_domain", False):
        raise HTTPError(400, "Projects acting as domains are not supported.")
    domain_id = text(doc, "domain_id") or text(doc, "parent_id") or \
        caller.claims.domain_id or (caller.project or {}).get("domain_id") or \
        directory.DEFAULT_DOMAIN_ID
    if directory.get_domain(service.store, domain_id) is None:
        raise HTTPError(400, f"Invalid input: no domain {domain_id[:80]!r} (projects may "
                             f"only have a domain as parent)")
    try:
        with service.store.write() as conn:
            project_id = directory.create_project(conn, domain_id, name, description, enabled)
    except Duplicate:
        raise _conflict(name) from None
    return json_response({"project": views.project(service.base, _get(service, project_id))},
                         201)


def update_project(service, req, project_id):
    policy.require_admin(service.caller(req))
    doc = json_body(req, "project")
    _get(service, project_id)
    changes = {}
    if "name" in doc:
        changes["name"] = text(doc, "name", required=True, max_len=64)
    if "description" in doc:
        changes["description"] = text(doc, "description", default="", max_len=MAX_TEXT)
    if "enabled" in doc:
        changes["enabled"] = int(boolean(doc, "enabled"))
    if "domain_id" in doc and text(doc, "domain_id") != _get(service, project_id)["domain_id"]:
        raise HTTPError(400, "Invalid input: a project cannot move to another domain")
    try:
        with service.store.write() as conn:
            directory.update_row(conn, "projects", project_id, changes)
            if changes.get("enabled") == 0:
                revocations.add(conn, project_id=project_id)
    except Duplicate:
        raise _conflict(changes.get("name", "")) from None
    return json_response({"project": views.project(service.base, _get(service, project_id))})


def delete_project(service, req, project_id):
    policy.require_admin(service.caller(req))
    _get(service, project_id)
    with service.store.write() as conn:
        directory.delete_project(conn, project_id)
        revocations.add(conn, project_id=project_id)
    return empty_response(204)


def user_projects(service, req, user_id):
    caller = service.caller(req)
    policy.require_admin_or_self(caller, user_id)
    if directory.get_user(service.store, user_id) is None:
        raise not_found("user", user_id)
    ids = assignments.targets_of(service.store, user_id, "project")
    rows = [row for row in (directory.get_project(service.store, pid) for pid in ids)
            if row is not None]
    return json_response({"projects": [views.project(service.base, r) for r in rows],
                          "links": collection_links(req)})
