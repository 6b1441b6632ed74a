"""The volume store's SQLite file: volumes, snapshots, backups, attachments, quotas.

One file (WAL mode, `common.sqlite_db`). Every change runs inside `Store.write()`, a
`BEGIN IMMEDIATE` transaction handing out a `Tx`: a status check and the change it guards
(attach an available volume, create within quota, take a free export port) happen in one
transaction, so two requests never both win; the schema's constraints are the last word
(one export port per attachment, at most one attachment per volume). No code may yield to
another green thread inside a transaction.
"""
from __future__ import annotations

import contextlib
import json
import sqlite3

from common.sqlite_db import SQLiteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS volumes (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,
    availability_zone TEXT NOT NULL,
    bootable INTEGER NOT NULL DEFAULT 0,
    snapshot_id TEXT,
    source_volid TEXT,
    image_id TEXT,
    image_meta TEXT NOT NULL DEFAULT '{}',
    metadata TEXT NOT NULL DEFAULT '{}',
    fault TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS volumes_project ON volumes (project_id);
CREATE TABLE IF NOT EXISTS snapshots (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    volume_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS snapshots_volume ON snapshots (volume_id);
CREATE TABLE IF NOT EXISTS backups (
    id TEXT PRIMARY KEY,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    volume_id TEXT NOT NULL,
    name TEXT,
    description TEXT,
    size INTEGER NOT NULL,
    status TEXT NOT NULL,
    container TEXT NOT NULL,
    object_prefix TEXT NOT NULL,
    object_count INTEGER NOT NULL DEFAULT 0,
    sha256 TEXT,
    fail_reason TEXT,
    restore_volume_id TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS backups_project ON backups (project_id);
CREATE TABLE IF NOT EXISTS attachments (
    id TEXT PRIMARY KEY,
    volume_id TEXT NOT NULL UNIQUE REFERENCES volumes (id),
    project_id TEXT NOT NULL,
    instance_uuid TEXT NOT NULL,
    attach_status TEXT NOT NULL,
    mountpoint TEXT,
    host_name TEXT,
    connector TEXT,
    export_port INTEGER UNIQUE,
    created_at TEXT NOT NULL,
    attached_at TEXT
);
CREATE INDEX IF NOT EXISTS attachments_instance ON attachments (instance_uuid);
CREATE TABLE IF NOT EXISTS quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource)
);
"""

JSON_COLUMNS = ("image_meta", "metadata", "connector")


def _decoded(row: dict | None) -> dict | None:
    if row is None:
        return None
    for key in JSON_COLUMNS:
        if key in row and row[key] is not None:
            row[key] = json.loads(row[key])
    return row


def _encoded(values: dict) -> dict:
    return {key: json.dumps(value, sort_keys=True) if key in JSON_COLUMNS
            and value is not None else value for key, value in values.items()}


class Store(SQLiteDatabase):
    """The volume store; reads decode JSON columns, writes hand out a `Tx`."""

    def __init__(self, path: str):
        super().__init__(path, SCHEMA)

    @contextlib.contextmanager
    def write(self):
        with super().write() as conn:
            yield Tx(conn)

    def get(self, table: str, ident: str) -> dict | None:
        return _decoded(self.row(f"SELECT * FROM {table} WHERE id = ?", (ident,)))

    def select(self, table: str, where: str = "1", params: tuple = ()) -> list[dict]:
        return [_decoded(row) for row in
                self.rows(f"SELECT * FROM {table} WHERE {where} ORDER BY created_at, id",
                          params)]

    def usage(self, project_id: str) -> dict:
        with self._lock:
            return Tx(self._conn).usage(project_id)

    def limits(self, project_id: str, defaults: dict) -> dict:
        with self._lock:
            return Tx(self._conn).limits(project_id, defaults)


class Tx:
    """The open transaction."""

    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def row(self, sql: str, params: tuple = ()) -> dict | None:
        found = self.conn.execute(sql, params).fetchone()
        return _decoded(dict(found)) if found is not None else None

    def get(self, table: str, ident: str) -> dict | None:
        return self.row(f"SELECT * FROM {table} WHERE id = ?", (ident,))

    def insert(self, table: str, values: dict) -> None:
        values = _encoded(values)
        names = ", ".join(values)
        marks = ", ".join("?" for _ in values)
        self.conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})",
                          tuple(values.values()))

    def update(self, table: str, ident: str, values: dict) -> None:
        values = _encoded(values)
        sets = ", ".join(f"{name} = ?" for name in values)
        self.conn.execute(f"UPDATE {table} SET {sets} WHERE id = ?",
                          (*values.values(), ident))

    def delete(self, table: str, ident: str) -> None:
        self.conn.execute(f"DELETE FROM {table} WHERE id = ?", (ident,))

    def usage(self, project_id: str) -> dict:
        def one(sql: str) -> int:
            return int(self.conn.execute(sql, (project_id,)).fetchone()[0] or 0)

        volume_gb = one("SELECT sum(size) FROM volumes WHERE project_id = ?")
        snapshot_gb = one("SELECT sum(size) FROM snapshots WHERE project_id = ?")
        return {
            "volumes": one("SELECT count(*) FROM volumes WHERE project_id = ?"),
            "gigabytes": volume_gb + snapshot_gb,
            "snapshots": one("SELECT count(*) FROM snapshots WHERE project_id = ?"),
            "backups": one("SELECT count(*) FROM backups WHERE project_id = ?"),
            "backup_gigabytes": one("SELECT sum(size) FROM backups WHERE project_id = ?"),
        }

    def limits(self, project_id: str, defaults: dict) -> dict:
        limits = dict(defaults)
        for resource, limit in self.conn.execute(
                "SELECT resource, hard_limit FROM quotas WHERE project_id = ?", (project_id,)):
            limits[resource] = limit
        return limits

    def set_limits(self, project_id: str, limits: dict) -> None:
        for resource, limit in limits.items():
            self.conn.execute("INSERT OR REPLACE INTO quotas (project_id, resource, "
                              "hard_limit) VALUES (?, ?, ?)", (project_id, resource, limit))

    def clear_limits(self, project_id: str) -> None:
        self.conn.execute("DELETE FROM quotas WHERE project_id = ?", (project_id,))

    def free_port(self, low: int, high: int, busy: set) -> int | None:
        """The lowest port of low..high no attachment holds and not in `busy`."""
        taken = {row[0] for row in self.conn.execute(
            "SELECT export_port FROM attachments WHERE export_port IS NOT NULL")}
        for port in range(low, high + 1):
            if port not in taken and port not in busy:
                return port
        return None
