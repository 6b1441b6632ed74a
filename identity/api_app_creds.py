"""`/v3/users/{user_id}/application_credentials`: a user's credentials for scripts.

Create (the user themself, with a project-scoped token: the credential is for that project
and a subset of the caller's roles there, all of them by default; the secret is generated
unless given, returned once, and only its hash is kept), list, show, delete (the user or an
admin). Deleting a credential ends the tokens obtained with it.
"""
from __future__ import annotations

import datetime
import secrets
import time

from common.http_errors import HTTPError
from identity import app_creds, assignments, policy, revocations, views
from identity.store import Duplicate
from identity.web import (
    MAX_TEXT,
    boolean,
    collection_links,
    empty_response,
    json_body,
    json_response,
    not_found,
    query,
    text,
)


def _expiry(doc: dict) -> float | None:
    raw = text(doc, "expires_at", max_len=64)
    if raw is None:
        return None
    try:
        moment = datetime.datetime.fromisoformat(raw)
    except ValueError:
        raise HTTPError(400, "Invalid input for field 'expires_at': not an ISO 8601 time") \
            from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    expires = moment.timestamp()
    if expires <= time.time():
        raise HTTPError(400, "Invalid input for field 'expires_at': in the past")
    return expires


def _requested_roles(doc: dict, available: list[dict]) -> list[dict]:
    wanted = doc.get("roles")
    if wanted is not None and (not isinstance(wanted, list)
                               or not all(isinstance(r, dict) for r in wanted)):
        raise HTTPError(400, "Invalid input for field 'roles': expected a list of objects")
    if not wanted:  # absent or empty: every role of the caller's token, as in Keystone
        return available
    chosen = []
    for ref in wanted:
        match = [r for r in available
                 if ("id" in ref and r["id"] == ref["id"])
                 or ("id" not in ref and "name" in ref and r["name"] == ref["name"])]
        if not match:
            raise HTTPError(403, "Cannot grant an application credential a role the user "
                                 "does not hold on the project.")
        chosen.extend(r for r in match if r not in chosen)
    return chosen


def _view(service, row: dict, secret: str | None = None) -> dict:
    roles = [assignments.get_role(service.store, rid) for rid in app_creds.role_ids(row)]
    return views.app_cred(service.base, row, [r for r in roles if r], secret)


def _get(service, user_id: str, cred_id: str) -> dict:
    row = app_creds.get(service.store, cred_id)
    if row is None or row["user_id"] != user_id:
        raise not_found("application credential", cred_id)
    return row


def create_app_cred(service, req, user_id):
    caller = service.caller(req)
    policy.require_self(caller, user_id)
    policy.require_app_cred_manager(caller, user_id)
    if caller.claims.project_id is None:
        raise HTTPError(403, "Creating an application credential needs a project-scoped "
                             "token.")
    doc = json_body(req, "application_credential")
    name = text(doc, "name", required=True)
    description = text(doc, "description", default="", max_len=MAX_TEXT) or ""
    secret = text(doc, "secret", max_len=service.config.max_password_length) or \
        secrets.token_urlsafe(48)
    expires = _expiry(doc)
    unrestricted = bool(boolean(doc, "unrestricted", False))
    if doc.get("access_rules"):
        raise HTTPError(400, "Access rules are not supported.")
    roles = _requested_roles(doc, caller.roles)
    secret_hash = service.hasher.hash(secret)
    try:
        with service.store.write() as conn:
            cred_id = app_creds.create(conn, user_id, caller.claims.project_id, name,
                                       secret_hash, [r["id"] for r in roles], description,
                                       expires, unrestricted)
    except Duplicate:
        raise HTTPError(409, f"Conflict occurred attempting to store application_credential "
                             f"- Duplicate entry found with name {name[:80]}.") from None
    row = app_creds.get(service.store, cred_id)
    return json_response({"application_credential": _view(service, row, secret)}, 201)


def list_app_creds(service, req, user_id):
    policy.require_admin_or_self(service.caller(req), user_id)
    rows = app_creds.list_for(service.store, user_id, query(req).get("name"))
    return json_response({"application_credentials": [_view(service, r) for r in rows],
                          "links": collection_links(req)})


def show_app_cred(service, req, user_id, cred_id):
    policy.require_admin_or_self(service.caller(req), user_id)
    return json_response({"application_credential": _view(service,
                                                          _get(service, user_id, cred_id))})


def delete_app_cred(service, req, user_id, cred_id):
    caller = service.caller(req)
    if not caller.is_admin:
        policy.require_app_cred_manager(caller, user_id)
    _get(service, user_id, cred_id)
    with service.store.write() as conn:
        app_creds.delete(conn, cred_id)
        revocations.add(conn, app_cred_id=cred_id)
    return empty_response(204)
