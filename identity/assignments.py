"""Roles and role assignments in the identity store (a user's role on a project or domain).

Roles are global (`reader`, `member`, `admin` exist from the first start). An assignment is
a (user, target type, target id, role) row; the roles a token carries are the user's roles on
its scope. Like `identity.directory`, reads take the `Store`, changes a write connection.
"""
from __future__ import annotations

import time

from identity.directory import new_id

BUILTIN_ROLES = ("reader", "member", "admin")
# A role implies the ones after it: an admin is also a member and a reader.
IMPLIED = {"admin": ("member", "reader"), "member": ("reader",)}


def get_role(store, role_id: str) -> dict | None:
    return store.row("SELECT * FROM roles WHERE id = ?", (role_id,))


def role_by_name(store, name: str) -> dict | None:
    return store.row("SELECT * FROM roles WHERE name = ?", (name,))


def list_roles(store, name: str | None = None) -> list[dict]:
    if name is not None:
        return store.rows("SELECT * FROM roles WHERE name = ? ORDER BY name", (name,))
    return store.rows("SELECT * FROM roles ORDER BY name, id")


def create_role(conn, name: str, description: str = "") -> str:
    role_id = new_id()
    conn.execute("INSERT INTO roles (id, name, description, created_at) VALUES (?, ?, ?, ?)",
                 (role_id, name, description, time.time()))
    return role_id


def delete_role(conn, role_id: str) -> None:
    conn.execute("DELETE FROM assignments WHERE role_id = ?", (role_id,))
    conn.execute("DELETE FROM roles WHERE id = ?", (role_id,))


def grant(conn, user_id: str, target_type: str, target_id: str, role_id: str) -> None:
    conn.execute("INSERT OR IGNORE INTO assignments (user_id, target_type, target_id, role_id)"
                 " VALUES (?, ?, ?, ?)", (user_id, target_type, target_id, role_id))


def revoke(conn, user_id: str, target_type: str, target_id: str, role_id: str) -> int:
    return conn.execute("DELETE FROM assignments WHERE user_id = ? AND target_type = ? AND "
                        "target_id = ? AND role_id = ?",
                        (user_id, target_type, target_id, role_id)).rowcount


def has_grant(store, user_id: str, target_type: str, target_id: str, role_id: str) -> bool:
    return store.row("SELECT 1 AS found FROM assignments WHERE user_id = ? AND target_type = ?"
                     " AND target_id = ? AND role_id = ?",
                     (user_id, target_type, target_id, role_id)) is not None


def roles_on(store, user_id: str, target_type: str, target_id: str) -> list[dict]:
    """The roles (rows) `user_id` holds on the target, implied roles included."""
    direct = store.rows(
        "SELECT roles.* FROM assignments JOIN roles ON roles.id = assignments.role_id "
        "WHERE assignments.user_id = ? AND assignments.target_type = ? AND "
        "assignments.target_id = ? ORDER BY roles.name", (user_id, target_type, target_id))
    names = {role["name"] for role in direct}
    result = list(direct)
    for role in direct:
        for implied in IMPLIED.get(role["name"], ()):
            if implied not in names:
                row = role_by_name(store, implied)
                if row is not None:
                    names.add(implied)
                    result.append(row)
    return result


def targets_of(store, user_id: str, target_type: str) -> list[str]:
    """Ids of the projects (or domains) on which `user_id` holds some role."""
    return [row["target_id"] for row in store.rows(
        "SELECT DISTINCT target_id FROM assignments WHERE user_id = ? AND target_type = ? "
        "ORDER BY target_id", (user_id, target_type))]


def list_assignments(store, user_id=None, project_id=None, domain_id=None,
                     role_id=None) -> list[dict]:
    clauses, params = [], []
    if user_id is not None:
        clauses.append("user_id = ?")
        params.append(user_id)
    if project_id is not None:
        clauses += ["target_type = 'project'", "target_id = ?"]
        params.append(project_id)
    if domain_id is not None:
        clauses += ["target_type = 'domain'", "target_id = ?"]
        params.append(domain_id)
    if role_id is not None:
        clauses.append("role_id = ?")
        params.append(role_id)
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    return store.rows("SELECT * FROM assignments" + where +
                      " ORDER BY user_id, target_type, target_id, role_id", tuple(params))
