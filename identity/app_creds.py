"""Application credentials in the identity store: a user's named secret for one project.

A credential belongs to its user, is tied to one project and a subset of the user's roles
there (by default all of them at creation), may expire, and keeps only the Argon2 hash of its
secret. A token obtained with one carries only those roles and cannot create further
credentials unless the credential is `unrestricted`.
"""
from __future__ import annotations

import json
import time

from identity.directory import new_id


def create(conn, user_id: str, project_id: str, name: str, secret_hash: str,
           role_ids: list[str], description: str = "", expires_at: float | None = None,
           unrestricted: bool = False) -> str:
    cred_id = new_id()
    conn.execute(
        "INSERT INTO app_creds (id, user_id, project_id, name, description, secret_hash,"
        " expires_at, unrestricted, roles, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (cred_id, user_id, project_id, name, description, secret_hash, expires_at,
         int(unrestricted), json.dumps(role_ids), time.time()))
    return cred_id


def get(store, cred_id: str) -> dict | None:
    return store.row("SELECT * FROM app_creds WHERE id = ?", (cred_id,))


def by_name(store, user_id: str, name: str) -> dict | None:
    return store.row("SELECT * FROM app_creds WHERE user_id = ? AND name = ?", (user_id, name))


def list_for(store, user_id: str, name: str | None = None) -> list[dict]:
    if name is not None:
        return store.rows("SELECT * FROM app_creds WHERE user_id = ? AND name = ?",
                          (user_id, name))
    return store.rows("SELECT * FROM app_creds WHERE user_id = ? ORDER BY name, id",
                      (user_id,))


def role_ids(row: dict) -> list[str]:
    return json.loads(row["roles"])


def delete(conn, cred_id: str) -> None:
    conn.execute("DELETE FROM app_creds WHERE id = ?", (cred_id,))
