"""`/v3/auth/...`: issue, validate and revoke tokens; the caller's catalog, projects, domains.

`POST /v3/auth/tokens` answers 201 with the token in `X-Subject-Token` and its description
(user, scope, roles, catalog unless `?nocatalog`, expiry, methods) in the body. `GET`/`HEAD`
validate the `X-Subject-Token` (the caller's own, or any for an admin); `DELETE` revokes it.
"""
from __future__ import annotations

from common.http_errors import HTTPError
from identity import assignments, directory, policy, revocations, views
from identity.authenticate import authenticate, resolve_scope
from identity.web import (
    collection_links,
    empty_response,
    json_body,
    json_response,
    obj,
    query,
)


def issue_token(service, req):
    auth = json_body(req, "auth")
    who = authenticate(service, obj(auth, "identity", required=True))
    kind, scope_id, roles = resolve_scope(service, auth.get("scope"), who)
    token, _claims = service.tokens.issue(
        who.user["id"], who.methods, kind, scope_id, [role["name"] for role in roles],
        expires_at=who.expires_at, parent_audit_id=who.parent_audit_id,
        app_cred_id=who.app_cred["id"] if who.app_cred else None)
    valid = service.tokens.validate(token)
    if valid is None:  # changed between the checks and now (a concurrent revocation)
        raise HTTPError(401, "The request you have made requires authentication.")
    catalog = None if "nocatalog" in query(req) else service.catalog_for(valid)
    return json_response(views.token(valid, catalog), 201, {"X-Subject-Token": token})


def _subject(service, req):
    caller = service.caller(req)
    subject = req.headers.get("X-Subject-Token", "")
    if not subject:
        raise HTTPError(400, "X-Subject-Token is required")
    valid = service.tokens.validate(subject)
    if valid is None:
        raise HTTPError(404, "Could not find token.")
    if not caller.is_admin and valid.user["id"] != caller.user["id"]:
        raise HTTPError(403, policy.FORBIDDEN)
    return caller, valid


def validate_token(service, req):
    _caller, valid = _subject(service, req)
    catalog = None if "nocatalog" in query(req) else service.catalog_for(valid)
    response = json_response(views.token(valid, catalog), 200,
                             {"X-Subject-Token": valid.token})
    if req.method == "HEAD":
        response.body = b""
    return response


def check_token(service, req):
    _subject(service, req)
    return empty_response(200)


def revoke_token(service, req):
    _caller, valid = _subject(service, req)
    with service.store.write() as conn:
        revocations.add(conn, audit_id=valid.claims.audit_ids[0],
                        issued_before=valid.claims.issued_at)
    service.tokens.prune_revocations()
    return empty_response(204)


def auth_catalog(service, req):
    caller = service.caller(req)
    if caller.claims.scope_kind is None:
        raise HTTPError(403, "The service catalog needs a scoped token.")
    return json_response({"catalog": service.catalog_for(caller),
                          "links": collection_links(req)})


def auth_projects(service, req):
    caller = service.caller(req)
    ids = assignments.targets_of(service.store, caller.user["id"], "project")
    rows = [row for row in (directory.get_project(service.store, pid) for pid in ids)
            if row is not None and row["enabled"]]
    return json_response({"projects": [views.project(service.base, row) for row in rows],
                          "links": collection_links(req)})


def auth_domains(service, req):
    caller = service.caller(req)
    ids = set(assignments.targets_of(service.store, caller.user["id"], "domain"))
    rows = [row for row in (directory.get_domain(service.store, did) for did in sorted(ids))
            if row is not None and row["enabled"]]
    return json_response({"domains": [views.domain(service.base, row) for row in rows],
                          "links": collection_links(req)})
