"""The container database: one SQLite file per container replica, holding its object rows.

Rows `(name, created_at, size, content_type, etag, deleted)` arrive from object servers
(one short transaction each) and from replication (`merge_items`); a row with a newer
`created_at` replaces the stored one (delete + insert, so it gets a new ROWID that the
replicator will ship), an older or equal one is ignored. `object_count` and `bytes_used` live
in the stat row and are kept by triggers, never by scanning. The `reported_*` columns hold
what was last reported to the account, for the container updater.
"""
from __future__ import annotations

from common.timestamp import Timestamp
from storage.databases.broker import (
    DatabaseBroker,
    new_db_id,
    normalize_timestamp,
)
from storage.databases.listing import ListingParams, list_entries

CONTAINER_SCHEMA = """
CREATE TABLE object (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    size INTEGER NOT NULL DEFAULT 0,
    content_type TEXT NOT NULL DEFAULT '',
    etag TEXT NOT NULL DEFAULT '',
    deleted INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_object_deleted_name ON object (deleted, name);
CREATE TABLE container_stat (
    account TEXT NOT NULL,
    container TEXT NOT NULL,
    created_at TEXT NOT NULL,
    put_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    status_changed_at TEXT NOT NULL DEFAULT '0000000000.00000',
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0,
    reported_put_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    reported_delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    reported_object_count INTEGER NOT NULL DEFAULT 0,
    reported_bytes_used INTEGER NOT NULL DEFAULT 0,
    id TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER object_insert AFTER INSERT ON object BEGIN
    UPDATE container_stat SET
        object_count = object_count + (1 - new.deleted),
        bytes_used = bytes_used + (1 - new.deleted) * new.size;
END;
CREATE TRIGGER object_delete AFTER DELETE ON object BEGIN
    UPDATE container_stat SET
        object_count = object_count - (1 - old.deleted),
        bytes_used = bytes_used - (1 - old.deleted) * old.size;
END;
"""

LISTING_COLUMNS = "name, created_at, size, content_type, etag"


class ContainerBroker(DatabaseBroker):
    item_table = "object"
    stat_table = "container_stat"
    item_columns = ("name", "created_at", "size", "content_type", "etag", "deleted")
    listing_columns = LISTING_COLUMNS
    kind = "containers"

    def _schema(self) -> str:
        return CONTAINER_SCHEMA

    def _stat_row(self, put_timestamp: str, account: str, container: str) -> dict:
        now = Timestamp.now().normal
        return {
            "account": account,
            "container": container,
            "created_at": now,
            "put_timestamp": put_timestamp,
            "status_changed_at": now,
            "id": new_db_id(),
            "metadata": "{}",
        }

    def create(self, account: str, container: str, put_timestamp) -> bool:
        """Create the database (created_at = now). False if one already existed."""
        return self._create(put_timestamp, account=account, container=container)

    @staticmethod
    def status_deleted(info: dict) -> bool:
        return info["object_count"] == 0 and info["delete_timestamp"] > info["put_timestamp"]

    # ---- object rows -----------------------------------------------------------------

    def put_object(
        self, name: str, timestamp, size: int, content_type: str, etag: str, deleted: int = 0
    ) -> bool:
        """Record one object PUT (or DELETE with deleted=1); True when the row changed."""
        row = {
            "name": name,
            "created_at": normalize_timestamp(timestamp),
            "size": int(size),
            "content_type": content_type,
            "etag": etag,
            "deleted": 1 if deleted else 0,
        }
        with self.transaction() as conn:
            return bool(self._merge_row(conn, row))

    def delete_object(self, name: str, timestamp) -> bool:
        return self.put_object(name, timestamp, 0, "", "", deleted=1)

    def _merge_row(self, conn, row: dict) -> int:
        created_at = normalize_timestamp(row["created_at"])
        current = conn.execute(
            "SELECT created_at FROM object WHERE name = ?", (row["name"],)
        ).fetchone()
        if current is not None and current[0] >= created_at:
            return 0
        deleted = 1 if row.get("deleted") else 0
        self._replace_row(
            conn,
            {
                "name": row["name"],
                "created_at": created_at,
                "size": 0 if deleted else int(row.get("size") or 0),
                "content_type": row.get("content_type") or "",
                "etag": row.get("etag") or "",
                "deleted": deleted,
            },
        )
        return 1

    def get_object_row(self, name: str) -> dict | None:
        cursor = self.conn.execute(
            f"SELECT ROWID, {', '.join(self.item_columns)} FROM object WHERE name = ?", (name,)
        )
        values = cursor.fetchone()
        if values is None:
            return None
        return dict(zip(("ROWID",) + self.item_columns, values, strict=True))

    def _reclaim_rows(self, conn, age: str) -> int:
        cursor = conn.execute("DELETE FROM object WHERE deleted = 1 AND created_at < ?", (age,))
        return cursor.rowcount

    # ---- listing ---------------------------------------------------------------------

    def list_objects(self, params: ListingParams) -> list:
        """Rows `(name, created_at, size, content_type, etag)` and Subdirs of one page."""
        return list_entries(params, self._fetch)

    # ---- reports to the account ------------------------------------------------------

    def set_reported(self, put_timestamp, delete_timestamp, object_count, bytes_used) -> None:
        with self.transaction() as conn:
            conn.execute(
                "UPDATE container_stat SET reported_put_timestamp = ?, "
                "reported_delete_timestamp = ?, reported_object_count = ?, "
                "reported_bytes_used = ?",
                (
                    normalize_timestamp(put_timestamp),
                    normalize_timestamp(delete_timestamp),
                    int(object_count),
                    int(bytes_used),
                ),
            )

    @staticmethod
    def report_due(info: dict) -> bool:
        """True when the account has not yet been told the current stats."""
        return (
            info["put_timestamp"] != info["reported_put_timestamp"]
            or info["delete_timestamp"] != info["reported_delete_timestamp"]
            or info["object_count"] != info["reported_object_count"]
            or info["bytes_used"] != info["reported_bytes_used"]
        )
