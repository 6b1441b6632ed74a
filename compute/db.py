"""The compute API's SQLite database: schema, connection setup, and write transactions.

One file (WAL mode) holds flavors, servers, hypervisor hosts, keypairs and quotas. Every
state change runs inside `Database.write()`, a `BEGIN IMMEDIATE` transaction: SQLite then
admits one writer at a time (across processes too), which is what makes quota checks and host
claims atomic.
No code may yield to another green thread inside a transaction (no network IO there).
"""
from __future__ import annotations

import sqlite3

from common.sqlite_db import SQLiteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS flavors (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    vcpus INTEGER NOT NULL,
    ram INTEGER NOT NULL,
    disk INTEGER NOT NULL,
    is_public INTEGER NOT NULL DEFAULT 1,
    deleted INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS servers (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    image_ref TEXT NOT NULL,
    image_meta TEXT NOT NULL DEFAULT '{}',
    kernel_id TEXT,
    ramdisk_id TEXT,
    flavor_id TEXT NOT NULL,
    vcpus INTEGER NOT NULL,
    ram INTEGER NOT NULL,
    disk INTEGER NOT NULL,
    availability_zone TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    vm_state TEXT NOT NULL,
    task_state TEXT,
    power_state INTEGER NOT NULL DEFAULT 0,
    host TEXT,
    attempted_hosts TEXT NOT NULL DEFAULT '[]',
    fault_message TEXT,
    fault_code INTEGER,
    fault_created REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    launched_at REAL,
    terminated_at REAL,
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS servers_project ON servers (project_id, deleted);
CREATE INDEX IF NOT EXISTS servers_host ON servers (host, deleted);
CREATE TABLE IF NOT EXISTS hosts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    availability_zone TEXT NOT NULL,
    agent_url TEXT NOT NULL,
    host_ip TEXT NOT NULL DEFAULT '',
    vcpus INTEGER NOT NULL,
    memory_mb INTEGER NOT NULL,
    local_gb INTEGER NOT NULL,
    hypervisor_type TEXT NOT NULL,
    hypervisor_version INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1,
    disabled_reason TEXT,
    boot_id TEXT NOT NULL DEFAULT '',
    last_heartbeat REAL NOT NULL,
    created_at REAL NOT NULL,
    vcpus_used INTEGER NOT NULL DEFAULT 0,
    ram_used INTEGER NOT NULL DEFAULT 0,
    disk_used INTEGER NOT NULL DEFAULT 0,
    instances INTEGER NOT NULL DEFAULT 0
);
-- Host usage columns follow the servers table inside the same transaction, so claims can
-- filter and order hosts in SQL (servers keep their claim until deleted, even in ERROR).
CREATE TRIGGER IF NOT EXISTS server_claim_insert AFTER INSERT ON servers
WHEN NEW.host IS NOT NULL AND NEW.deleted = 0
BEGIN
    UPDATE hosts SET vcpus_used = vcpus_used + NEW.vcpus, ram_used = ram_used + NEW.ram,
        disk_used = disk_used + NEW.disk, instances = instances + 1 WHERE name = NEW.host;
END;
CREATE TRIGGER IF NOT EXISTS server_claim_update AFTER UPDATE OF host, deleted ON servers
BEGIN
    UPDATE hosts SET vcpus_used = vcpus_used - OLD.vcpus, ram_used = ram_used - OLD.ram,
        disk_used = disk_used - OLD.disk, instances = instances - 1
        WHERE name = OLD.host AND OLD.deleted = 0;
    UPDATE hosts SET vcpus_used = vcpus_used + NEW.vcpus, ram_used = ram_used + NEW.ram,
        disk_used = disk_used + NEW.disk, instances = instances + 1
        WHERE name = NEW.host AND NEW.deleted = 0;
END;
CREATE TRIGGER IF NOT EXISTS server_claim_delete AFTER DELETE ON servers
BEGIN
    UPDATE hosts SET vcpus_used = vcpus_used - OLD.vcpus, ram_used = ram_used - OLD.ram,
        disk_used = disk_used - OLD.disk, instances = instances - 1
        WHERE name = OLD.host AND OLD.deleted = 0;
END;
CREATE TABLE IF NOT EXISTS keypairs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL DEFAULT 'ssh',
    public_key TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (user_id, name)
);
CREATE TABLE IF NOT EXISTS console_tokens (
    token_hash TEXT PRIMARY KEY,
    server_id TEXT NOT NULL,
    project_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS quotas (
    project_id TEXT NOT NULL,
    resource TEXT NOT NULL,
    hard_limit INTEGER NOT NULL,
    PRIMARY KEY (project_id, resource)
);
"""

# Columns added after the first release: (table, column, declaration). A database made
# before them gets them on open (SQLite's ALTER TABLE ADD COLUMN; existing rows get NULL).
ADDED_COLUMNS = (
    ("servers", "kernel_id", "TEXT"),  # resolved by the API at boot (image property)
    ("servers", "ramdisk_id", "TEXT"),
    ("servers", "key_name", "TEXT"),  # the keypair named at boot, and its public key then
    ("servers", "key_data", "TEXT"),
    ("servers", "user_data", "TEXT"),  # base64 as given, for the config drive
    ("servers", "config_drive", "INTEGER NOT NULL DEFAULT 0"),
    ("servers", "network_info", "TEXT NOT NULL DEFAULT '[]'"),  # compute.network_info
    ("servers", "block_devices", "TEXT NOT NULL DEFAULT '[]'"),  # compute.block_devices
    # day-2 operations (compute.lifecycle): the shelved disk's image, and while a resize or
    # cold migration waits for confirmResize/revertResize, where and what the server was
    ("servers", "shelved_image_id", "TEXT"),
    ("servers", "old_host", "TEXT"),
    ("servers", "old_flavor", "TEXT"),  # JSON {"id", "vcpus", "ram", "disk"}
    ("servers", "old_vm_state", "TEXT"),
    # the last heartbeat's host uptime (s) and load averages (JSON [1, 5, 15 min])
    ("hosts", "uptime_seconds", "REAL"),
    ("hosts", "load_average", "TEXT"),
)


class Database(SQLiteDatabase):
    """The compute database (`common.sqlite_db`): its schema, plus columns added since."""

    def __init__(self, path: str):
        super().__init__(path, SCHEMA, foreign_keys=False)
        self._add_missing_columns()

    def _add_missing_columns(self) -> None:
        for table, column, declaration in ADDED_COLUMNS:
            present = {row[1] for row in self._conn.execute(f"PRAGMA table_info({table})")}
            if column in present:
                continue
            try:
                self._conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {declaration}")
            except sqlite3.OperationalError as exc:
                if "duplicate column" not in str(exc):  # another process added it first
                    raise

    def read(self, sql: str, params: tuple = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

