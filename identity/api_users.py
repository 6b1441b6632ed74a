"""`/v3/users`: list, show (admins, or the user themself), create, update, delete; and
`POST /v3/users/{user_id}/password`, a user changing their own password (the original
password is the credential, as in Keystone).

Names are unique within a domain (409). Passwords are hashed before any transaction starts
(`identity.passwords`). A changed password, a disabled or deleted user ends every token the
user holds (a revocation event for the user).
"""
from __future__ import annotations

import time

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
    unauthorized,
)


def _conflict(name: str) -> HTTPError:
    return HTTPError(409, f"Conflict occurred attempting to store user - Duplicate entry "
                          f"found with name {name[:80]}.")


def _get(service, user_id: str) -> dict:
    row = directory.get_user(service.store, user_id)
    if row is None:
        raise not_found("user", user_id)
    return row


def _password(service, doc: dict, key: str = "password", required: bool = False):
    return text(doc, key, required=required, max_len=service.config.max_password_length)


def _project_ref(service, doc: dict) -> str | None:
    project_id = text(doc, "default_project_id")
    if project_id and directory.get_project(service.store, project_id) is None:
        raise HTTPError(400, f"Invalid input: no project {project_id[:80]!r}")
    return project_id or None


def list_users(service, req):
    caller = service.caller(req)
    params = query(req)
    rows = directory.list_users(service.store, params.get("name"), params.get("domain_id"),
                                bool_filter(params, "enabled"))
    if not caller.is_admin:
        rows = [row for row in rows if row["id"] == caller.user["id"]]
    return json_response({"users": [views.user(service.base, r) for r in rows],
                          "links": collection_links(req)})


def show_user(service, req, user_id):
    caller = service.caller(req)
    policy.require_admin_or_self(caller, user_id)
    return json_response({"user": views.user(service.base, _get(service, user_id))})


def create_user(service, req):
    caller = service.caller(req)
    policy.require_admin(caller)
    doc = json_body(req, "user")
    name = text(doc, "name", required=True)
    password = _password(service, doc)
    domain_id = text(doc, "domain_id") or caller.claims.domain_id or \
        (caller.project or {}).get("domain_id") or directory.DEFAULT_DOMAIN_ID
    if directory.get_domain(service.store, domain_id) is None:
        raise HTTPError(400, f"Invalid input: no domain {domain_id[:80]!r}")
    enabled = boolean(doc, "enabled", True)
    description = text(doc, "description", default="", max_len=MAX_TEXT)
    email = text(doc, "email")
    project_id = _project_ref(service, doc)
    password_hash = service.hasher.hash(password) if password else None
    try:
        with service.store.write() as conn:
            user_id = directory.create_user(conn, domain_id, name, password_hash, enabled,
                                            project_id, description, email)
    except Duplicate:
        raise _conflict(name) from None
    return json_response({"user": views.user(service.base, _get(service, user_id))}, 201)


def update_user(service, req, user_id):
    policy.require_admin(service.caller(req))
    doc = json_body(req, "user")
    row = _get(service, user_id)
    changes = {}
    if "name" in doc:
        changes["name"] = text(doc, "name", required=True)
    if "description" in doc:
        changes["description"] = text(doc, "description", default="", max_len=MAX_TEXT)
    if "email" in doc:
        changes["email"] = text(doc, "email")
    if "enabled" in doc:
        changes["enabled"] = int(boolean(doc, "enabled"))
    if "default_project_id" in doc:
        changes["default_project_id"] = _project_ref(service, doc)
    if "domain_id" in doc and text(doc, "domain_id") != row["domain_id"]:
        raise HTTPError(400, "Invalid input: a user cannot move to another domain")
    password = _password(service, doc) if "password" in doc else None
    if password:
        changes["password_hash"] = service.hasher.hash(password)
        changes["password_changed_at"] = time.time()
    try:
        with service.store.write() as conn:
            directory.update_row(conn, "users", user_id, changes)
            if changes.get("enabled") == 0 or password:
                revocations.add(conn, user_id=user_id)
    except Duplicate:
        raise _conflict(changes.get("name", "")) from None
    return json_response({"user": views.user(service.base, _get(service, user_id))})


def delete_user(service, req, user_id):
    policy.require_admin(service.caller(req))
    _get(service, user_id)
    with service.store.write() as conn:
        directory.delete_user(conn, user_id)
        revocations.add(conn, user_id=user_id)
    return empty_response(204)


def change_password(service, req, user_id):
    """Keystone's rule: the original password is the credential (no token needed)."""
    doc = json_body(req, "user")
    original = _password(service, doc, "original_password", required=True)
    new = _password(service, doc, "password", required=True)
    row = directory.get_user(service.store, user_id)
    stored = row["password_hash"] if row is not None and row["enabled"] else None
    if not service.hasher.verify(stored, original):
        raise unauthorized("The original password is not correct.")
    password_hash = service.hasher.hash(new)
    with service.store.write() as conn:
        directory.update_row(conn, "users", user_id, {"password_hash": password_hash,
                                                      "password_changed_at": time.time()})
        revocations.add(conn, user_id=user_id)
    return empty_response(204)
