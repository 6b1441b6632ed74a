"""The identity store's SQLite file: schema, connection setup, and transactions.

One file (WAL mode) holds domains, projects, users, roles, role assignments, application
credentials, revocation events and a small `meta` table. Every change runs inside
`Store.write()`, a `BEGIN IMMEDIATE` transaction; a unique constraint broken inside one (a
duplicate name in a domain) becomes `Duplicate`, and nothing of the transaction stays.
No code may yield to another green thread inside a transaction (no network IO, no hashing).
"""
from __future__ import annotations

import contextlib
import sqlite3

from common.sqlite_db import SQLiteDatabase

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS domains (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS projects (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES domains (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    enabled INTEGER NOT NULL DEFAULT 1,
    created_at REAL NOT NULL,
    UNIQUE (domain_id, name)
);
CREATE TABLE IF NOT EXISTS users (
    id TEXT PRIMARY KEY,
    domain_id TEXT NOT NULL REFERENCES domains (id),
    name TEXT NOT NULL,
    password_hash TEXT,
    enabled INTEGER NOT NULL DEFAULT 1,
    default_project_id TEXT,
    description TEXT NOT NULL DEFAULT '',
    email TEXT,
    password_changed_at REAL,
    created_at REAL NOT NULL,
    UNIQUE (domain_id, name)
);
CREATE TABLE IF NOT EXISTS roles (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS assignments (
    user_id TEXT NOT NULL REFERENCES users (id),
    target_type TEXT NOT NULL CHECK (target_type IN ('project', 'domain')),
    target_id TEXT NOT NULL,
    role_id TEXT NOT NULL REFERENCES roles (id),
    PRIMARY KEY (user_id, target_type, target_id, role_id)
);
CREATE INDEX IF NOT EXISTS assignments_target ON assignments (target_type, target_id);
CREATE INDEX IF NOT EXISTS assignments_role ON assignments (role_id);
CREATE TABLE IF NOT EXISTS app_creds (
    id TEXT PRIMARY KEY,
    user_id TEXT NOT NULL REFERENCES users (id),
    project_id TEXT NOT NULL REFERENCES projects (id),
    name TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    secret_hash TEXT NOT NULL,
    expires_at REAL,
    unrestricted INTEGER NOT NULL DEFAULT 0,
    roles TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (user_id, name)
);
CREATE TABLE IF NOT EXISTS revocations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    issued_before REAL NOT NULL,
    audit_id TEXT,
    user_id TEXT,
    project_id TEXT,
    app_cred_id TEXT,
    revoked_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS revocations_audit ON revocations (audit_id);
CREATE INDEX IF NOT EXISTS revocations_user ON revocations (user_id);
CREATE INDEX IF NOT EXISTS revocations_project ON revocations (project_id);
"""


class Duplicate(Exception):
    """A write broke a uniqueness rule (same name in the same domain, ...)."""


class Store(SQLiteDatabase):
    """The identity store: its schema on `common.sqlite_db`, unique violations as `Duplicate`."""

    def __init__(self, path: str):
        super().__init__(path, SCHEMA)

    @contextlib.contextmanager
    def write(self):
        """A `BEGIN IMMEDIATE` transaction; a broken unique rule inside it is `Duplicate`."""
        try:
            with super().write() as conn:
                yield conn
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc) or "PRIMARY KEY" in str(exc):
                raise Duplicate(str(exc)) from None
            raise

    def get_meta(self, key: str) -> str | None:
        found = self.row("SELECT value FROM meta WHERE key = ?", (key,))
        return found["value"] if found else None

