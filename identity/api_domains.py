"""`/v3/domains`: list, show (admins, or the caller's own domain), create, update, delete.

The `Default` domain cannot be deleted; any other must be disabled first (Keystone's rule),
and takes its projects, users and their assignments with it. Disabling a domain ends the
tokens of its users and projects at once (validation checks the domain).
"""
from __future__ import annotations

from common.http_errors import HTTPError
from identity import directory, policy, revocations, views
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
    return HTTPError(409, f"Conflict occurred attempting to store domain - Duplicate entry "
                          f"found with name {name[:80]}.")


def _get(service, domain_id: str) -> dict:
    row = directory.get_domain(service.store, domain_id)
    if row is None:
        raise not_found("domain", domain_id)
    return row


def list_domains(service, req):
    caller = service.caller(req)
    params = query(req)
    rows = directory.list_domains(service.store, params.get("name"),
                                  bool_filter(params, "enabled"))
    rows = [row for row in rows if policy.may_see_domain(caller, row["id"])]
    return json_response({"domains": [views.domain(service.base, r) for r in rows],
                          "links": collection_links(req)})


def show_domain(service, req, domain_id):
    caller = service.caller(req)
    row = _get(service, domain_id)
    if not policy.may_see_domain(caller, domain_id):
        raise HTTPError(403, policy.FORBIDDEN)
    return json_response({"domain": views.domain(service.base, row)})


def create_domain(service, req):
    policy.require_admin(service.caller(req))
    doc = json_body(req, "domain")
    name = text(doc, "name", required=True)
    description = text(doc, "description", default="", max_len=MAX_TEXT)
    enabled = boolean(doc, "enabled", True)
    try:
        with service.store.write() as conn:
            domain_id = directory.create_domain(conn, name, description, enabled)
    except Duplicate:
        raise _conflict(name) from None
    row = directory.get_domain(service.store, domain_id)
    return json_response({"domain": views.domain(service.base, row)}, 201)


def update_domain(service, req, domain_id):
    policy.require_admin(service.caller(req))
    doc = json_body(req, "domain")
    _get(service, domain_id)
    changes = {}
    if "name" in doc:
        changes["name"] = text(doc, "name", required=True)
    if "description" in doc:
        changes["description"] = text(doc, "description", default="", max_len=MAX_TEXT)
    if "enabled" in doc:
        changes["enabled"] = int(boolean(doc, "enabled"))
        if not changes["enabled"] and domain_id == directory.DEFAULT_DOMAIN_ID:
            raise HTTPError(403, "The Default domain cannot be disabled.")
    try:
        with service.store.write() as conn:
            directory.update_row(conn, "domains", domain_id, changes)
    except Duplicate:
        raise _conflict(changes.get("name", "")) from None
    return json_response({"domain": views.domain(service.base, _get(service, domain_id))})


def delete_domain(service, req, domain_id):
    policy.require_admin(service.caller(req))
    row = _get(service, domain_id)
    if domain_id == directory.DEFAULT_DOMAIN_ID:
        raise HTTPError(403, "The Default domain cannot be deleted.")
    if row["enabled"]:
        raise HTTPError(403, "Cannot delete a domain that is enabled, please disable it "
                             "first.")
    project_ids, user_ids = directory.domain_contents(service.store, domain_id)
    with service.store.write() as conn:
        directory.delete_domain(conn, domain_id, project_ids, user_ids)
        for user_id in user_ids:
            revocations.add(conn, user_id=user_id)
        for project_id in project_ids:
            revocations.add(conn, project_id=project_id)
    return empty_response(204)
