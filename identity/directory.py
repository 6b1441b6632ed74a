"""Domains, projects and users in the identity store: lookups, filtered lists and changes.

Reads take the `Store`; changes take the connection of a `Store.write()` transaction, so a
handler can combine them (a user deleted with its assignments, credentials and a revocation
event, all or nothing). Rows are plain dicts with `enabled` as an int.
"""
from __future__ import annotations

import time
import uuid

DEFAULT_DOMAIN_ID = "default"


def new_id() -> str:
    return uuid.uuid4().hex


def _filtered(store, table: str, filters: dict, order: str = "name") -> list[dict]:
    """Rows of `table` whose columns equal `filters` (None values ignored)."""
    clauses, params = [], []
    for column, value in filters.items():
        if value is None:
            continue
        clauses.append(f"{column} = ?")
        params.append(value)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return store.rows(f"SELECT * FROM {table}{where} ORDER BY {order}, id", tuple(params))


# Domains ---------------------------------------------------------------------------------

def get_domain(store, domain_id: str) -> dict | None:
    return store.row("SELECT * FROM domains WHERE id = ?", (domain_id,))


def domain_by_name(store, name: str) -> dict | None:
    return store.row("SELECT * FROM domains WHERE name = ?", (name,))


def list_domains(store, name=None, enabled=None) -> list[dict]:
    return _filtered(store, "domains", {"name": name, "enabled": enabled})


def create_domain(conn, name: str, description: str = "", enabled: bool = True,
                  domain_id: str | None = None) -> str:
    domain_id = domain_id or new_id()
    conn.execute("INSERT INTO domains (id, name, description, enabled, created_at) "
                 "VALUES (?, ?, ?, ?, ?)", (domain_id, name, description, int(enabled),
                                            time.time()))
    return domain_id


def domain_contents(store, domain_id: str) -> tuple[list[str], list[str]]:
    """(project ids, user ids) of a domain."""
    projects = [r["id"] for r in store.rows("SELECT id FROM projects WHERE domain_id = ?",
                                            (domain_id,))]
    users = [r["id"] for r in store.rows("SELECT id FROM users WHERE domain_id = ?",
                                         (domain_id,))]
    return projects, users


# Projects --------------------------------------------------------------------------------

def get_project(store, project_id: str) -> dict | None:
    return store.row("SELECT * FROM projects WHERE id = ?", (project_id,))


def project_by_name(store, domain_id: str, name: str) -> dict | None:
    return store.row("SELECT * FROM projects WHERE domain_id = ? AND name = ?",
                     (domain_id, name))


def list_projects(store, name=None, domain_id=None, enabled=None) -> list[dict]:
    return _filtered(store, "projects", {"name": name, "domain_id": domain_id,
                                         "enabled": enabled})


def create_project(conn, domain_id: str, name: str, description: str = "",
                   enabled: bool = True, project_id: str | None = None) -> str:
    project_id = project_id or new_id()
    conn.execute("INSERT INTO projects (id, domain_id, name, description, enabled, created_at)"
                 " VALUES (?, ?, ?, ?, ?, ?)", (project_id, domain_id, name, description,
                                                int(enabled), time.time()))
    return project_id


# Users -----------------------------------------------------------------------------------

def get_user(store, user_id: str) -> dict | None:
    return store.row("SELECT * FROM users WHERE id = ?", (user_id,))


def user_by_name(store, domain_id: str, name: str) -> dict | None:
    return store.row("SELECT * FROM users WHERE domain_id = ? AND name = ?", (domain_id, name))


def list_users(store, name=None, domain_id=None, enabled=None) -> list[dict]:
    return _filtered(store, "users", {"name": name, "domain_id": domain_id,
                                      "enabled": enabled})


def create_user(conn, domain_id: str, name: str, password_hash: str | None,
                enabled: bool = True, default_project_id: str | None = None,
                description: str = "", email: str | None = None,
                user_id: str | None = None) -> str:
    user_id = user_id or new_id()
    now = time.time()
    conn.execute(
        "INSERT INTO users (id, domain_id, name, password_hash, enabled, default_project_id,"
        " description, email, password_changed_at, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (user_id, domain_id, name, password_hash, int(enabled), default_project_id,
         description, email, now if password_hash else None, now))
    return user_id


def update_row(conn, table: str, row_id: str, changes: dict) -> None:
    """Set `changes` ({column: value}; columns chosen by the caller, never by a client)."""
    if not changes:
        return
    assignments = ", ".join(f"{column} = ?" for column in changes)
    conn.execute(f"UPDATE {table} SET {assignments} WHERE id = ?",
                 (*changes.values(), row_id))


def delete_user(conn, user_id: str) -> None:
    conn.execute("DELETE FROM assignments WHERE user_id = ?", (user_id,))
    conn.execute("DELETE FROM app_creds WHERE user_id = ?", (user_id,))
    conn.execute("UPDATE users SET default_project_id = NULL WHERE id = ?", (user_id,))
    conn.execute("DELETE FROM users WHERE id = ?", (user_id,))


def delete_project(conn, project_id: str) -> None:
    conn.execute("DELETE FROM assignments WHERE target_type = 'project' AND target_id = ?",
                 (project_id,))
    conn.execute("DELETE FROM app_creds WHERE project_id = ?", (project_id,))
    conn.execute("UPDATE users SET default_project_id = NULL WHERE default_project_id = ?",
                 (project_id,))
    conn.execute("DELETE FROM projects WHERE id = ?", (project_id,))


def delete_domain(conn, domain_id: str, project_ids: list[str], user_ids: list[str]) -> None:
    for user_id in user_ids:
        delete_user(conn, user_id)
    for project_id in project_ids:
        delete_project(conn, project_id)
    conn.execute("DELETE FROM assignments WHERE target_type = 'domain' AND target_id = ?",
                 (domain_id,))
    conn.execute("DELETE FROM domains WHERE id = ?", (domain_id,))
