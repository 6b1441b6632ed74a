"""One SQLite file per service, opened the same way everywhere: WAL, full fsync, one lock.

`SQLiteDatabase(path, schema)` creates the file's directory, opens one connection shared by
the service's green threads and OS threads (serialized by a lock; no green thread may yield
inside a transaction, since nothing there does IO), runs the schema script, and offers
`write()` — a `BEGIN IMMEDIATE` transaction that commits on success and rolls back on any
error, so a choice made inside it (a free address, a unique name) holds across processes —
plus `rows`/`row` reads as plain dicts. The identity, network and compute stores build on it.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
import threading


class SQLiteDatabase:
    """A service's SQLite file: one shared connection, write transactions, dict reads."""

    def __init__(self, path: str, schema: str, *, foreign_keys: bool = True):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        self.path = path
        self._conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                                     timeout=30.0)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        if foreign_keys:
            self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.executescript(schema)
        self._lock = threading.RLock()

    @contextlib.contextmanager
    def write(self):
        """A `BEGIN IMMEDIATE` transaction on the connection; commits on success, rolls back
        on any error (the error goes on)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def rows(self, sql: str, params: tuple = ()) -> list[dict]:
        with self._lock:
            return [dict(row) for row in self._conn.execute(sql, params).fetchall()]

    def row(self, sql: str, params: tuple = ()) -> dict | None:
        found = self.rows(sql, params)
        return found[0] if found else None

    def close(self) -> None:
        with self._lock:
            self._conn.close()
