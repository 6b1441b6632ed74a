"""View builders: identity store rows → the JSON documents of Keystone's v3 API.

`base` is the service's public URL (`[identity] public_url`); every resource links to itself
under `<base>/v3/...`. Times are ISO 8601 UTC with microseconds and a `Z`, as Keystone writes
them.
"""
from __future__ import annotations

import datetime


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    moment = datetime.datetime.fromtimestamp(ts, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _links(base: str, path: str) -> dict:
    return {"self": f"{base}/v3/{path}"}


def domain(base: str, row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "description": row["description"],
            "enabled": bool(row["enabled"]), "tags": [], "options": {},
            "links": _links(base, f"domains/{row['id']}")}


def project(base: str, row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "domain_id": row["domain_id"],
            "description": row["description"], "enabled": bool(row["enabled"]),
            "parent_id": row["domain_id"], "is_domain": False, "tags": [], "options": {},
            "links": _links(base, f"projects/{row['id']}")}


def user(base: str, row: dict) -> dict:
    doc = {"id": row["id"], "name": row["name"], "domain_id": row["domain_id"],
           "enabled": bool(row["enabled"]), "password_expires_at": None, "options": {},
           "description": row["description"],
           "links": _links(base, f"users/{row['id']}")}
    if row["default_project_id"]:
        doc["default_project_id"] = row["default_project_id"]
    if row["email"]:
        doc["email"] = row["email"]
    return doc


def role(base: str, row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "domain_id": None,
            "description": row["description"], "options": {},
            "links": _links(base, f"roles/{row['id']}")}


def role_ref(row: dict) -> dict:
    return {"id": row["id"], "name": row["name"]}


def app_cred(base: str, row: dict, role_rows: list[dict], secret: str | None = None) -> dict:
    doc = {"id": row["id"], "name": row["name"], "description": row["description"],
           "user_id": row["user_id"], "project_id": row["project_id"],
           "expires_at": iso(row["expires_at"]), "unrestricted": bool(row["unrestricted"]),
           "roles": [role_ref(r) for r in role_rows], "access_rules": [],
           "links": _links(base, f"users/{row['user_id']}/application_credentials/"
                                 f"{row['id']}")}
    if secret is not None:
        doc["secret"] = secret
    return doc


def token(valid, catalog: list[dict] | None) -> dict:
    """The `{"token": ...}` body of an issued or validated token (`ValidToken`)."""
    claims = valid.claims
    user_domain = valid.user_domain
    doc = {
        "methods": list(claims.methods),
        "user": {"id": valid.user["id"], "name": valid.user["name"],
                 "domain": {"id": user_domain["id"], "name": user_domain["name"]},
                 "password_expires_at": None},
        "audit_ids": list(claims.audit_ids),
        "issued_at": iso(claims.issued_at),
        "expires_at": iso(claims.expires_at),
    }
    if valid.project is not None:
        doc["project"] = {"id": valid.project["id"], "name": valid.project["name"],
                          "domain": {"id": valid.project["domain_id"],
                                     "name": valid.project_domain["name"]}}
        doc["is_domain"] = False
    if valid.domain is not None:
        doc["domain"] = {"id": valid.domain["id"], "name": valid.domain["name"]}
    if claims.scope_kind is not None:
        doc["roles"] = [role_ref(r) for r in valid.roles]
    if valid.app_cred is not None:
        doc["application_credential"] = {"id": valid.app_cred["id"],
                                         "name": valid.app_cred["name"],
                                         "restricted": not valid.app_cred["unrestricted"]}
    if catalog is not None:
        doc["catalog"] = catalog
    return {"token": doc}
