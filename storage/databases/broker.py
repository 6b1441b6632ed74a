"""The shared SQLite layer under the container and account servers (and their replicators).

One database file per container or account replica, at
`<devices>/<dev>/{containers,accounts}/<partition>/<suffix>/<hash>/<hash>.db`. A
`DatabaseBroker` subclass names its item table (object or container rows) and stat table;
this module gives them:

- atomic creation: the schema is written to a temp file in the same directory, fsynced, then
  hard-linked into place (no-clobber: a racing creator's file wins) and the directory fsynced;
- WAL journal with `synchronous=FULL`, so an acknowledged write survives a crash, and one
  cached connection per database (storage.databases.files, whose names are re-exported here) so a
  write is one short transaction;
- metadata as JSON `{header: [value, timestamp]}` merged key by key, newest timestamp wins,
  an empty value being a deletion that still carries its timestamp;
- replication hooks: a stable per-database `id`, rows numbered by an always-increasing ROWID
  (`get_items_since`), `merge_items` (newest timestamp wins, implemented per subclass), and
  incoming/outgoing sync points (remote id -> last row id seen).
"""
from __future__ import annotations

import abc
import contextlib
import json
import os
import sqlite3
import uuid

from common.timestamp import Timestamp
from storage.databases.files import CONNECTIONS as CONNECTIONS
from storage.databases.files import ConnectionCache as ConnectionCache
from storage.databases.files import DatabaseNotFound as DatabaseNotFound
from storage.databases.files import db_dir as db_dir
from storage.databases.files import db_path as db_path
from storage.databases.files import fsync_dir as fsync_dir
from storage.databases.files import makedirs_durable as makedirs_durable
from storage.databases.listing import prefix_successor

ZERO_TIMESTAMP = "0000000000.00000"
SYNC_TABLES = ("incoming_sync", "outgoing_sync")


class MetadataRejected(Exception):
    """Merged metadata would break a limit; nothing was changed."""


def normalize_timestamp(value) -> str:
    return Timestamp(value).normal


def merge_metadata_dicts(current: dict, updates: dict) -> dict:
    """Key-wise merge of {key: [value, timestamp]}; the newer timestamp wins."""
    merged = {key: list(pair) for key, pair in current.items()}
    for key, (value, timestamp) in updates.items():
        timestamp = normalize_timestamp(timestamp)
        existing = merged.get(key)
        if existing is None or timestamp > existing[1]:
            merged[key] = [value, timestamp]
    return merged


def _refuse_if_invalid(merged: dict, validate) -> None:
    """MetadataRejected when `validate(merged)` gives a reason."""
    reason = validate(merged) if validate is not None else None
    if reason:
        raise MetadataRejected(reason)


class DatabaseBroker(abc.ABC):
    """Common behaviour of the container and account databases."""

    item_table = ""
    stat_table = ""
    # item columns other than ROWID, in the order rows are exchanged
    item_columns: tuple[str, ...] = ()
    kind = ""  # 'containers' or 'accounts'
    listing_columns = "name"  # columns of a listing row, name first

    def __init__(self, path: str, connections: ConnectionCache | None = None):
        self.db_path = path
        self.connections = connections or CONNECTIONS

    # ---- files and connections -------------------------------------------------------

    def exists(self) -> bool:
        return os.path.isfile(self.db_path)

    @property
    def conn(self) -> sqlite3.Connection:
        return self.connections.get(self.db_path)

    def close(self) -> None:
        """Forget the cached connection (before moving or deleting the file)."""
        self.connections.close(self.db_path)

    @contextlib.contextmanager
    def transaction(self):
        conn = self.conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    @abc.abstractmethod
    def _schema(self) -> str:
        """Provided by each kind of database."""

    @abc.abstractmethod
    def _stat_row(self, put_timestamp: str, **names) -> dict:
        """Provided by each kind of database."""

    def _create(self, put_timestamp, **names) -> bool:
        """Create the database atomically; False when one already existed (left as is)."""
        directory = os.path.dirname(self.db_path)
        makedirs_durable(directory)
        tmp_path = os.path.join(directory, f".{uuid.uuid4().hex}.tmp.db")
        put_timestamp = normalize_timestamp(put_timestamp)
        try:
            conn = sqlite3.connect(tmp_path, isolation_level=None)
            try:
                # A temp file: no per-statement syncs; the whole file is fsynced below.
                conn.execute("PRAGMA synchronous = OFF")
                conn.executescript("BEGIN;" + self._schema() + SYNC_SCHEMA)
                row = self._stat_row(put_timestamp, **names)
                columns = ", ".join(row)
                marks = ", ".join("?" for _ in row)
                conn.execute(
                    f"INSERT INTO {self.stat_table} ({columns}) VALUES ({marks})",
                    list(row.values()),
                )
                conn.execute("COMMIT")
                conn.execute("PRAGMA journal_mode = WAL")
            finally:
                conn.close()  # last connection: checkpoints and removes the -wal file
            fd = os.open(tmp_path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            try:
                os.link(tmp_path, self.db_path)
                created = True
            except FileExistsError:
                created = False
        finally:
            for leftover in (tmp_path, tmp_path + "-wal", tmp_path + "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
        fsync_dir(directory)
        return created

    def snapshot(self, dest_path: str) -> None:
        """Write a consistent copy of the database to dest_path (for whole-database copies)."""
        target = sqlite3.connect(dest_path, isolation_level=None)
        try:
            self.conn.backup(target)
        finally:
            target.close()
        fd = os.open(dest_path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    # ---- info and status -------------------------------------------------------------

    def get_info(self) -> dict:
        conn = self.conn
        cursor = conn.execute(f"SELECT * FROM {self.stat_table}")
        columns = [d[0] for d in cursor.description]
        info = dict(zip(columns, cursor.fetchone(), strict=True))
        info["metadata"] = json.loads(info.get("metadata") or "{}")
        info["max_row"] = self.get_max_row()
        return info

    def get_max_row(self) -> int:
        row = self.conn.execute(f"SELECT MAX(ROWID) FROM {self.item_table}").fetchone()
        return row[0] if row[0] is not None else -1

    @staticmethod
    def status_deleted(info: dict) -> bool:
        return info["delete_timestamp"] > info["put_timestamp"]

    def is_deleted(self) -> bool:
        return self.status_deleted(self.get_info())

    def update_put_timestamp(self, timestamp) -> bool:
        """Raise put_timestamp to `timestamp` if newer; True when it changed."""
        return self._raise_timestamp("put_timestamp", normalize_timestamp(timestamp))

    def mark_deleted(self, timestamp) -> bool:
        """Raise delete_timestamp to `timestamp` if newer; True when it changed. Its metadata
        (ACLs, quotas, keys, sysmeta; not the `X-Backend-*` keys, such as a container's storage
        policy) is cleared as of that time, as Swift does, so a database created again under
        the same name starts without it."""
        timestamp = normalize_timestamp(timestamp)
        if not self._raise_timestamp("delete_timestamp", timestamp):
            return False
        self.merge_metadata({key: ("", timestamp) for key in self.get_metadata()
                             if not key.lower().startswith("x-backend-")})
        return True

    def _raise_timestamp(self, column: str, timestamp: str) -> bool:
        # Read first: every replication pass sends each peer the timestamps it already has,
        # and a write transaction for nothing would cost a lock and a commit.
        current = self.conn.execute(f"SELECT {column} FROM {self.stat_table}").fetchone()[0]
        if timestamp <= current:
            return False
        with self.transaction() as conn:
            before = conn.execute(
                f"SELECT put_timestamp, delete_timestamp FROM {self.stat_table}"
            ).fetchone()
            current = before[0] if column == "put_timestamp" else before[1]
            if timestamp <= current:
                return False
            conn.execute(f"UPDATE {self.stat_table} SET {column} = ?", (timestamp,))
            was_deleted = before[1] > before[0]
            after = (timestamp, before[1]) if column == "put_timestamp" else (before[0], timestamp)
            if (after[1] > after[0]) != was_deleted:
                conn.execute(
                    f"UPDATE {self.stat_table} SET status_changed_at = ?",
                    (Timestamp.now().normal,),
                )
            return True

    # ---- metadata --------------------------------------------------------------------

    def get_metadata(self) -> dict:
        row = self.conn.execute(f"SELECT metadata FROM {self.stat_table}").fetchone()
        return json.loads(row[0] or "{}")

    def merge_metadata(self, updates: dict, validate=None) -> dict:
        """Merge {key: (value, timestamp)} into the stored metadata; return the result.

        `validate(merged)` may return a reason string; then nothing is stored and
        MetadataRejected(reason) is raised.
        """
        # Read first: a replication pass sends each peer the metadata it already has; when
        # nothing in `updates` is newer there is nothing to write (and no commit to fsync).
        current = self.get_metadata()
        merged = merge_metadata_dicts(current, updates)
        if merged == current:
            _refuse_if_invalid(merged, validate)
            return merged
        with self.transaction() as conn:
            row = conn.execute(f"SELECT metadata FROM {self.stat_table}").fetchone()
            merged = merge_metadata_dicts(json.loads(row[0] or "{}"), updates)
            _refuse_if_invalid(merged, validate)
            conn.execute(
                f"UPDATE {self.stat_table} SET metadata = ?",
                (json.dumps(merged, sort_keys=True),),
            )
            return merged

    # ---- listing ---------------------------------------------------------------------

    def _fetch(self, lower, lower_inclusive, upper, prefix, reverse, limit):
        """One indexed range query over live rows: the `fetch` of storage.databases.listing."""
        conditions = ["deleted = 0"]
        args: list = []
        if lower:
            conditions.append("name >= ?" if lower_inclusive else "name > ?")
            args.append(lower)
        if upper is not None:
            conditions.append("name < ?")
            args.append(upper)
        if prefix:
            conditions.append("name >= ?")
            args.append(prefix)
            successor = prefix_successor(prefix)
            if successor is not None:
                conditions.append("name < ?")
                args.append(successor)
        args.append(limit)
        order = "DESC" if reverse else "ASC"
        return self.conn.execute(
            f"SELECT {self.listing_columns} FROM {self.item_table} "
            f"WHERE {' AND '.join(conditions)} ORDER BY name {order} LIMIT ?",
            args,
        )  # a cursor: list_entries reads only the rows it needs

    # ---- replication -----------------------------------------------------------------

    def get_items_since(self, row_id: int, limit: int) -> list[dict]:
        """Item rows with ROWID > row_id, oldest change first, as plain dicts."""
        columns = ("ROWID",) + self.item_columns
        cursor = self.conn.execute(
            f"SELECT {', '.join(columns)} FROM {self.item_table} "
            "WHERE ROWID > ? ORDER BY ROWID LIMIT ?",
            (row_id, limit),
        )
        return [dict(zip(columns, values, strict=True)) for values in cursor]

    def merge_items(self, rows: list[dict], source_id: str | None = None) -> int:
        """Merge item rows (newest timestamp wins); return how many rows changed.

        With `source_id`, the incoming sync point of that remote database is raised to the
        highest ROWID among `rows`, in the same transaction.
        """
        changed = 0
        with self.transaction() as conn:
            for row in rows:
                changed += self._merge_row(conn, row)
            if source_id is not None:
                points = [r["ROWID"] for r in rows if r.get("ROWID") is not None]
                if points:
                    self._set_sync(conn, source_id, max(points), "incoming_sync")
        return changed

    @abc.abstractmethod
    def _merge_row(self, conn: sqlite3.Connection, row: dict) -> int:
        """Provided by each kind of database."""

    def _replace_row(self, conn: sqlite3.Connection, row: dict) -> None:
        """Delete the row of that name and insert the new one, so it gets a new ROWID."""
        conn.execute(f"DELETE FROM {self.item_table} WHERE name = ?", (row["name"],))
        conn.execute(
            f"INSERT INTO {self.item_table} ({', '.join(self.item_columns)}) "
            f"VALUES ({', '.join('?' for _ in self.item_columns)})",
            [row[c] for c in self.item_columns],
        )

    @staticmethod
    def _sync_table(incoming: bool) -> str:
        return "incoming_sync" if incoming else "outgoing_sync"

    def get_sync(self, remote_id: str, incoming: bool = True) -> int:
        """Last row id of `remote_id` known to be merged (-1 when never synced)."""
        row = self.conn.execute(
            f"SELECT sync_point FROM {self._sync_table(incoming)} WHERE remote_id = ?",
            (remote_id,),
        ).fetchone()
        return row[0] if row else -1

    def get_syncs(self, incoming: bool = True) -> list[dict]:
        cursor = self.conn.execute(
            f"SELECT remote_id, sync_point FROM {self._sync_table(incoming)}"
        )
        return [{"remote_id": r, "sync_point": p} for r, p in cursor]

    def set_sync(self, remote_id: str, sync_point: int, incoming: bool = True) -> None:
        with self.transaction() as conn:
            self._set_sync(conn, remote_id, sync_point, self._sync_table(incoming))

    def merge_syncs(self, syncs: list[dict], incoming: bool = True) -> None:
        """Raise each given remote's sync point (never lowers one)."""
        with self.transaction() as conn:
            for item in syncs:
                self._set_sync(
                    conn, item["remote_id"], int(item["sync_point"]), self._sync_table(incoming)
                )

    @staticmethod
    def _set_sync(conn, remote_id: str, sync_point: int, table: str) -> None:
        conn.execute(
            f"INSERT INTO {table} (remote_id, sync_point, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(remote_id) DO UPDATE SET "
            "sync_point = MAX(sync_point, excluded.sync_point), "
            "updated_at = excluded.updated_at",
            (remote_id, sync_point, Timestamp.now().normal),
        )

    def merge_from(self, other: DatabaseBroker, batch: int = 1000) -> int:
        """Merge another copy of this database (rows, timestamps, metadata) into this one."""
        other_info = other.get_info()
        changed = 0
        point = -1
        while True:
            rows = other.get_items_since(point, batch)
            if not rows:
                break
            changed += self.merge_items(rows, source_id=other_info["id"])
            point = rows[-1]["ROWID"]
        self.update_put_timestamp(other_info["put_timestamp"])
        self.mark_deleted(other_info["delete_timestamp"])
        self.merge_metadata({k: tuple(v) for k, v in other_info["metadata"].items()})
        return changed

    def install_copy(self, copy_path: str, source_id: str | None = None) -> bool:
        """Put a received whole-database copy at this broker's path.

        `copy_path` (same filesystem, e.g. the device's tmp dir) must be a complete database
        without a journal beside it, already fsynced (see `snapshot`). When no database
        exists here it is hard-linked into place and given its own id (True); when one
        appeared meanwhile, the copy is merged into it instead (False). The copy is removed.
        """
        directory = os.path.dirname(self.db_path)
        makedirs_durable(directory)
        try:
            try:
                os.link(copy_path, self.db_path)
            except FileExistsError:
                copy = type(self)(copy_path, ConnectionCache(1))
                try:
                    self.merge_from(copy)
                finally:
                    copy.close()
                return False
            fsync_dir(directory)
            self.reset_id(source_id)
            return True
        finally:
            for leftover in (copy_path, copy_path + "-wal", copy_path + "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)

    def reset_id(self, source_id: str | None = None) -> str:
        """Give a whole-copied database its own id; remember it holds all of source_id's rows."""
        new_id = str(uuid.uuid4())
        with self.transaction() as conn:
            conn.execute(f"UPDATE {self.stat_table} SET id = ?", (new_id,))
            for table in SYNC_TABLES:
                conn.execute(f"DELETE FROM {table}")
            if source_id is not None:
                max_row = conn.execute(f"SELECT MAX(ROWID) FROM {self.item_table}").fetchone()
                self._set_sync(
                    conn, source_id, max_row[0] if max_row[0] is not None else -1,
                    "incoming_sync",
                )
        return new_id

    def reclaim(self, age_timestamp) -> int:
        """Drop deletion rows and metadata tombstones older than age_timestamp."""
        age = normalize_timestamp(age_timestamp)
        with self.transaction() as conn:
            removed = self._reclaim_rows(conn, age)
            row = conn.execute(f"SELECT metadata FROM {self.stat_table}").fetchone()
            metadata = json.loads(row[0] or "{}")
            kept = {k: v for k, v in metadata.items() if v[0] != "" or v[1] >= age}
            if len(kept) != len(metadata):
                conn.execute(
                    f"UPDATE {self.stat_table} SET metadata = ?",
                    (json.dumps(kept, sort_keys=True),),
                )
        return removed

    @abc.abstractmethod
    def _reclaim_rows(self, conn, age: str) -> int:
        """Provided by each kind of database."""


SYNC_SCHEMA = """
CREATE TABLE incoming_sync (
    remote_id TEXT PRIMARY KEY, sync_point INTEGER NOT NULL, updated_at TEXT NOT NULL
);
CREATE TABLE outgoing_sync (
    remote_id TEXT PRIMARY KEY, sync_point INTEGER NOT NULL, updated_at TEXT NOT NULL
);
"""


def new_db_id() -> str:
    return str(uuid.uuid4())


def visible_metadata(metadata: dict) -> dict[str, str]:
    """{header: value} without deletion markers (empty values)."""
    return {key: pair[0] for key, pair in metadata.items() if pair[0] != ""}
