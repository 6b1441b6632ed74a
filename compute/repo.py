"""Reads and writes of flavors and servers in the compute database.

Each write method is one transaction (`Database.write`). Servers are soft-deleted (`deleted=1`,
`vm_state='deleted'`, `terminated_at` set) so usage reports can still bill them.
"""
from __future__ import annotations

import json
import sqlite3
import time
import uuid

from compute import states
from compute.db import Database

DEFAULT_FLAVORS = (
    # id, name, vcpus, ram MiB, disk GB
    ("1", "m1.tiny", 1, 128, 1),
    ("2", "m1.small", 1, 256, 2),
    ("3", "m1.medium", 2, 512, 4),
    ("4", "m1.large", 4, 1024, 8),
)


class NotFound(Exception):
    """The row does not exist (or is deleted)."""


class Conflict(Exception):
    """The change clashes with the current state; the message says why."""


def server_from_row(row: sqlite3.Row) -> dict:
    server = dict(row)
    server["metadata"] = json.loads(server["metadata"])
    server["image_meta"] = json.loads(server["image_meta"])
    server["attempted_hosts"] = json.loads(server["attempted_hosts"])
    server["network_info"] = json.loads(server["network_info"] or "[]")
    server["block_devices"] = json.loads(server.get("block_devices") or "[]")
    server["config_drive"] = bool(server["config_drive"])
    return server


class Repo:
    """Flavor and server persistence."""

    def __init__(self, db: Database):
        self.db = db

    # flavors -------------------------------------------------------------------------
    def ensure_default_flavors(self) -> None:
        with self.db.write() as conn:
            if conn.execute("SELECT COUNT(*) FROM flavors").fetchone()[0]:
                return
            now = time.time()
            for flavor_id, name, vcpus, ram, disk in DEFAULT_FLAVORS:
                conn.execute(
                    "INSERT INTO flavors (id, name, vcpus, ram, disk, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (flavor_id, name, vcpus, ram, disk, now),
                )

    def list_flavors(self) -> list[dict]:
        rows = self.db.read("SELECT * FROM flavors WHERE deleted = 0")
        return sorted((dict(r) for r in rows), key=lambda f: (f["ram"], f["vcpus"], f["id"]))

    def get_flavor(self, flavor_id: str) -> dict:
        rows = self.db.read("SELECT * FROM flavors WHERE id = ? AND deleted = 0", (flavor_id,))
        if not rows:
            raise NotFound(f"Flavor {flavor_id} could not be found.")
        return dict(rows[0])

    def create_flavor(self, flavor: dict) -> dict:
        with self.db.write() as conn:
            clash = conn.execute(
                "SELECT id, name FROM flavors WHERE (id = ? OR name = ?)",
                (flavor["id"], flavor["name"]),
            ).fetchone()
            if clash is not None:
                raise Conflict(
                    f"Flavor with name {flavor['name']} or id {flavor['id']} already exists."
                )
            conn.execute(
                "INSERT INTO flavors (id, name, vcpus, ram, disk, is_public, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    flavor["id"],
                    flavor["name"],
                    flavor["vcpus"],
                    flavor["ram"],
                    flavor["disk"],
                    1 if flavor.get("is_public", True) else 0,
                    time.time(),
                ),
            )
        return self.get_flavor(flavor["id"])

    def delete_flavor(self, flavor_id: str) -> None:
        with self.db.write() as conn:
            cursor = conn.execute(
                "UPDATE flavors SET deleted = 1 WHERE id = ? AND deleted = 0", (flavor_id,)
            )
            if cursor.rowcount == 0:
                raise NotFound(f"Flavor {flavor_id} could not be found.")

    # servers -------------------------------------------------------------------------
    def get_server(self, server_id: str, include_deleted: bool = False) -> dict:
        sql = "SELECT * FROM servers WHERE id = ?"
        if not include_deleted:
            sql += " AND deleted = 0"
        rows = self.db.read(sql, (server_id,))
        if not rows:
            raise NotFound(f"Instance {server_id} could not be found.")
        return server_from_row(rows[0])

    def list_servers(self, project_id: str | None, include_deleted: bool = False) -> list[dict]:
        """Servers newest first; `project_id=None` lists every project's."""
        clauses, params = [], []
        if project_id is not None:
            clauses.append("project_id = ?")
            params.append(project_id)
        if not include_deleted:
            clauses.append("deleted = 0")
        where = (" WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = self.db.read(
            "SELECT * FROM servers" + where + " ORDER BY created_at DESC, id DESC", tuple(params)
        )
        return [server_from_row(r) for r in rows]

    def servers_on_host(self, host: str) -> list[dict]:
        rows = self.db.read("SELECT * FROM servers WHERE host = ? AND deleted = 0", (host,))
        return [server_from_row(r) for r in rows]

    def servers_with_task(self, task_states: tuple[str, ...]) -> list[dict]:
        marks = ",".join("?" * len(task_states))
        rows = self.db.read(
            f"SELECT * FROM servers WHERE deleted = 0 AND task_state IN ({marks})", task_states
        )
        return [server_from_row(r) for r in rows]

    def update_server(
        self, server_id: str, expect: dict | None = None, **changes
    ) -> dict | None:
        """Apply `changes` when the server (not deleted) matches `expect`; return it or None."""
        changes["updated_at"] = time.time()
        for key in ("metadata", "image_meta", "attempted_hosts", "network_info",
                    "block_devices"):
            if key in changes:
                changes[key] = json.dumps(changes[key])
        with self.db.write() as conn:
            row = conn.execute(
                "SELECT * FROM servers WHERE id = ? AND deleted = 0", (server_id,)
            ).fetchone()
            if row is None:
                return None
            for key, value in (expect or {}).items():
                allowed = value if isinstance(value, tuple) else (value,)
                if row[key] not in allowed:
                    return None
            assignments = ", ".join(f"{key} = ?" for key in changes)
            conn.execute(
                f"UPDATE servers SET {assignments} WHERE id = ?", (*changes.values(), server_id)
            )
            row = conn.execute("SELECT * FROM servers WHERE id = ?", (server_id,)).fetchone()
        return server_from_row(row)

    def set_error(self, server_id: str, message: str, code: int = 500, **changes) -> dict | None:
        now = time.time()
        return self.update_server(
            server_id,
            vm_state=states.ERROR,
            task_state=None,
            fault_message=message,
            fault_code=code,
            fault_created=now,
            **changes,
        )

    def mark_deleted(self, server_id: str) -> dict | None:
        now = time.time()
        return self.update_server(
            server_id,
            vm_state=states.DELETED,
            task_state=None,
            power_state=states.NOSTATE,
            terminated_at=now,
            deleted=1,
        )

    def all_servers_for_usage(self, project_id: str | None, start: float, end: float):
        """Servers (deleted or not) whose lifetime overlaps [start, end)."""
        clauses = ["created_at < ?", "(terminated_at IS NULL OR terminated_at > ?)"]
        params: list = [end, start]
        if project_id is not None:
            clauses.append("project_id = ?")
            params.append(project_id)
        rows = self.db.read(
            "SELECT * FROM servers WHERE " + " AND ".join(clauses) + " ORDER BY created_at",
            tuple(params),
        )
        return [server_from_row(r) for r in rows]


def new_server_id() -> str:
    return str(uuid.uuid4())
