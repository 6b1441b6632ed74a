"""Database files on a device: where they live, durable directories, open connections.

`db_path` gives a replica's file,
`<devices>/<dev>/{containers,accounts}/<partition>/<suffix>/<hash>/<hash>.db`.
`makedirs_durable`/`fsync_dir` (from `common.atomic_files`) make new directory entries
survive a crash.
`ConnectionCache` keeps one SQLite connection per database (WAL journal,
`synchronous=FULL`), least recently used closed first, and re-opens a connection when the
file at the path is a different inode than the one it opened; a vanished file raises
`DatabaseNotFound`. `database_stamp` tells the daemons, from two `stat`s, whether a database
may have changed since they last looked.
"""
from __future__ import annotations

import os
import sqlite3
from collections import OrderedDict

from common.atomic_files import fsync_dir as fsync_dir
from common.atomic_files import makedirs_durable as makedirs_durable

BUSY_TIMEOUT = 25.0


class DatabaseNotFound(Exception):
    """The database file does not exist."""


def db_dir(devices: str, device: str, kind: str, partition: int | str, path_hash: str) -> str:
    """Directory of one replica; kind is 'containers' or 'accounts'."""
    return os.path.join(devices, device, kind, str(partition), path_hash[-3:], path_hash)


def db_path(devices: str, device: str, kind: str, partition: int | str, path_hash: str) -> str:
    return os.path.join(db_dir(devices, device, kind, partition, path_hash), path_hash + ".db")


def database_stamp(path: str) -> tuple:
    """What differs whenever the database's content may have changed: its file's identity,
    size and modification time, and its WAL's size and modification time (a WAL that is absent
    or empty holds nothing, whichever of the two)."""
    db = os.stat(path)
    try:
        wal = os.stat(path + "-wal")
    except FileNotFoundError:
        wal = None
    wal_part = (wal.st_size, wal.st_mtime_ns) if wal is not None and wal.st_size else None
    return db.st_ino, db.st_size, db.st_mtime_ns, wal_part


def _configure(conn: sqlite3.Connection) -> None:
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA temp_store = MEMORY")


class ConnectionCache:
    """One open connection per database path, least recently used closed first."""

    def __init__(self, max_open: int = 128):
        self.max_open = max_open
        self._open: OrderedDict[str, tuple[sqlite3.Connection, tuple[int, int]]] = OrderedDict()

    def get(self, path: str) -> sqlite3.Connection:
        try:
            stat = os.stat(path)
        except FileNotFoundError:
            self.close(path)
            raise DatabaseNotFound(path) from None
        identity = (stat.st_dev, stat.st_ino)
        cached = self._open.get(path)
        if cached is not None:
            if cached[1] == identity:
                self._open.move_to_end(path)
                return cached[0]
            self.close(path)
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        try:
            _configure(conn)
        except sqlite3.Error:
            conn.close()  # not a database (or a broken one): the caller gets the error
            raise
        self._open[path] = (conn, identity)
        while len(self._open) > self.max_open:
            _, (old, _) = self._open.popitem(last=False)
            old.close()
        return conn

    def close(self, path: str) -> None:
        cached = self._open.pop(path, None)
        if cached is not None:
            cached[0].close()

    def close_all(self) -> None:
        while self._open:
            _, (conn, _) = self._open.popitem()
            conn.close()


CONNECTIONS = ConnectionCache()
