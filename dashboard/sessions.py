"""The dashboard's server-side sessions: a random id → the user's token and its scope.

The browser holds only the session id (in an HttpOnly cookie, `dashboard.guard`); the
Keystone token, its catalog and the session's CSRF token stay here, in SQLite (a file, or
`:memory:`). Ids and CSRF tokens are 256-bit random URL-safe strings. A session ends at
`expires_at` (the sooner of its idle limit and its token's expiry) or on logout.
No IO but the SQLite database; the clock is passed in (`now`).
"""
from __future__ import annotations

import json
import os
import secrets
import sqlite3
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    csrf TEXT NOT NULL,
    token TEXT NOT NULL,
    token_expires REAL NOT NULL,
    user_id TEXT NOT NULL,
    user_name TEXT NOT NULL,
    project_id TEXT NOT NULL,
    project_name TEXT NOT NULL,
    catalog TEXT NOT NULL,
    expires_at REAL NOT NULL
)
"""


@dataclass(frozen=True)
class Grant:
    """A project-scoped token as the identity service gave it."""

    token: str
    expires: float  # epoch seconds
    user_id: str
    user_name: str
    project_id: str
    project_name: str
    catalog: list


@dataclass(frozen=True)
class Session:
    id: str
    csrf: str
    grant: Grant
    expires_at: float


class SessionStore:
    """Sessions in one SQLite database (one connection; the server's green threads share it)."""

    def __init__(self, path: str, idle_seconds: float):
        if path != ":memory:":
            # It holds tokens: owner only, from the start (SQLite gives its -wal and -shm
            # files the database file's mode).
            os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
            os.chmod(path, 0o600)
        self.idle_seconds = idle_seconds
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        if path != ":memory:":
            self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(SCHEMA)

    def create(self, grant: Grant, now: float) -> Session:
        session = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), grant,
                          self._expiry(grant, now))
        self._db.execute(
            "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (session.id, session.csrf, grant.token, grant.expires, grant.user_id,
             grant.user_name, grant.project_id, grant.project_name,
             json.dumps(grant.catalog), session.expires_at))
        return session

    def get(self, session_id: str | None, now: float) -> Session | None:
        """The live session with this id (its idle limit renewed), else None."""
        if not session_id:
            return None
        row = self._db.execute(
            "SELECT id, csrf, token, token_expires, user_id, user_name, project_id, "
            "project_name, catalog, expires_at FROM sessions WHERE id = ?",
            (session_id,)).fetchone()
        if row is None:
            return None
        if row[9] <= now:
            self.delete(session_id)
            return None
        grant = Grant(row[2], row[3], row[4], row[5], row[6], row[7], json.loads(row[8]))
        expires_at = self._expiry(grant, now)
        self._db.execute("UPDATE sessions SET expires_at = ? WHERE id = ?",
                         (expires_at, session_id))
        return Session(row[0], row[1], grant, expires_at)

    def rescope(self, session: Session, grant: Grant, now: float) -> Session:
        """The same session (id and CSRF token) with another project's token."""
        expires_at = self._expiry(grant, now)
        self._db.execute(
            "UPDATE sessions SET token = ?, token_expires = ?, user_id = ?, user_name = ?, "
            "project_id = ?, project_name = ?, catalog = ?, expires_at = ? WHERE id = ?",
            (grant.token, grant.expires, grant.user_id, grant.user_name, grant.project_id,
             grant.project_name, json.dumps(grant.catalog), expires_at, session.id))
        return Session(session.id, session.csrf, grant, expires_at)

    def delete(self, session_id: str) -> None:
        self._db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def purge(self, now: float) -> int:
        """Forget every expired session; how many."""
        return self._db.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,)).rowcount

    def _expiry(self, grant: Grant, now: float) -> float:
        return min(now + self.idle_seconds, grant.expires)
