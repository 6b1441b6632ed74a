"""The account database: one SQLite file per account replica, holding its container rows.

A container row `(name, put_timestamp, delete_timestamp, object_count, bytes_used,
stats_timestamp, deleted)` is what container servers (and the container updater) report.
Merging is newest-wins per field group, so every replica converges whatever order reports
and replication rows arrive in: put and delete timestamps each keep their maximum; the
counts come from the report with the newest `stats_timestamp` (the time the container
server sent them); `deleted` is `delete_timestamp > put_timestamp`. Totals
(`container_count`, `object_count`, `bytes_used` over live rows) are kept by triggers. Each
row also keeps its container's storage policy index (from the same newest report), and
`policy_stats` sums live rows per policy; a database made before policies gets that column
(default 0) the first time this process opens it.
"""
from __future__ import annotations

from common.timestamp import Timestamp
from storage.databases.broker import DatabaseBroker, new_db_id, normalize_timestamp
from storage.databases.listing import ListingParams, list_entries

ACCOUNT_SCHEMA = """
CREATE TABLE container (
    ROWID INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    put_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0,
    stats_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    deleted INTEGER NOT NULL DEFAULT 0,
    storage_policy_index INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX ix_container_deleted_name ON container (deleted, name);
CREATE TABLE account_stat (
    account TEXT NOT NULL,
    created_at TEXT NOT NULL,
    put_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    delete_timestamp TEXT NOT NULL DEFAULT '0000000000.00000',
    status_changed_at TEXT NOT NULL DEFAULT '0000000000.00000',
    container_count INTEGER NOT NULL DEFAULT 0,
    object_count INTEGER NOT NULL DEFAULT 0,
    bytes_used INTEGER NOT NULL DEFAULT 0,
    id TEXT NOT NULL,
    metadata TEXT NOT NULL DEFAULT ''
);
CREATE TRIGGER container_insert AFTER INSERT ON container BEGIN
    UPDATE account_stat SET
        container_count = container_count + (1 - new.deleted),
        object_count = object_count + (1 - new.deleted) * new.object_count,
        bytes_used = bytes_used + (1 - new.deleted) * new.bytes_used;
END;
CREATE TRIGGER container_delete AFTER DELETE ON container BEGIN
    UPDATE account_stat SET
        container_count = container_count - (1 - old.deleted),
        object_count = object_count - (1 - old.deleted) * old.object_count,
        bytes_used = bytes_used - (1 - old.deleted) * old.bytes_used;
END;
"""

LISTING_COLUMNS = "name, put_timestamp, object_count, bytes_used"
ROW_FIELDS = (
    "put_timestamp",
    "delete_timestamp",
    "object_count",
    "bytes_used",
    "stats_timestamp",
    "deleted",
    "storage_policy_index",
)
POLICY_COLUMN_DDL = ("ALTER TABLE container ADD COLUMN "
                     "storage_policy_index INTEGER NOT NULL DEFAULT 0")
_POLICY_COLUMN_CHECKED: set[str] = set()  # database paths known to have the column


def merge_container_rows(current: dict | None, incoming: dict) -> dict:
    """The row that results from merging `incoming` into `current` (pure, deterministic)."""
    put = normalize_timestamp(incoming.get("put_timestamp") or 0)
    delete = normalize_timestamp(incoming.get("delete_timestamp") or 0)
    stats_ts = normalize_timestamp(incoming.get("stats_timestamp") or 0)
    count = int(incoming.get("object_count") or 0)
    used = int(incoming.get("bytes_used") or 0)
    policy = int(incoming.get("storage_policy_index") or 0)
    if current is not None:
        put = max(put, current["put_timestamp"])
        delete = max(delete, current["delete_timestamp"])
        if stats_ts <= current["stats_timestamp"]:
            stats_ts = current["stats_timestamp"]
            count = current["object_count"]
            used = current["bytes_used"]
            policy = current["storage_policy_index"]
    return {
        "name": incoming["name"],
        "put_timestamp": put,
        "delete_timestamp": delete,
        "object_count": count,
        "bytes_used": used,
        "stats_timestamp": stats_ts,
        "deleted": 1 if delete > put else 0,
        "storage_policy_index": policy,
    }


class AccountBroker(DatabaseBroker):
    item_table = "container"
    stat_table = "account_stat"
    item_columns = ("name",) + ROW_FIELDS
    listing_columns = LISTING_COLUMNS
    kind = "accounts"

    def _schema(self) -> str:
        return ACCOUNT_SCHEMA

    @property
    def conn(self):
        """The connection; a database made before storage policies gets their column once."""
        conn = super().conn
        if self.db_path not in _POLICY_COLUMN_CHECKED:
            columns = {row[1] for row in conn.execute("PRAGMA table_info(container)")}
            if "storage_policy_index" not in columns:
                conn.execute(POLICY_COLUMN_DDL)
            if len(_POLICY_COLUMN_CHECKED) > 100_000:
                _POLICY_COLUMN_CHECKED.clear()
            _POLICY_COLUMN_CHECKED.add(self.db_path)
        return conn

    def _stat_row(self, put_timestamp: str, account: str) -> dict:
        now = Timestamp.now().normal
        return {
            "account": account,
            "created_at": now,
            "put_timestamp": put_timestamp,
            "status_changed_at": now,
            "id": new_db_id(),
            "metadata": "{}",
        }

    def create(self, account: str, put_timestamp) -> bool:
        """Create the database. False if one already existed."""
        return self._create(put_timestamp, account=account)

    # ---- container rows --------------------------------------------------------------

    def put_container(
        self,
        name: str,
        put_timestamp,
        delete_timestamp,
        object_count: int,
        bytes_used: int,
        stats_timestamp=None,
        storage_policy_index: int = 0,
    ) -> bool:
        """Record one container report; True when the stored row changed."""
        row = {
            "name": name,
            "put_timestamp": put_timestamp,
            "delete_timestamp": delete_timestamp,
            "object_count": object_count,
            "bytes_used": bytes_used,
            "stats_timestamp": stats_timestamp or Timestamp.now().normal,
            "storage_policy_index": storage_policy_index,
        }
        with self.transaction() as conn:
            return bool(self._merge_row(conn, row))

    def _merge_row(self, conn, row: dict) -> int:
        values = conn.execute(
            f"SELECT {', '.join(ROW_FIELDS)} FROM container WHERE name = ?", (row["name"],)
        ).fetchone()
        current = dict(zip(ROW_FIELDS, values, strict=True)) if values else None
        merged = merge_container_rows(current, row)
        if current is not None and all(merged[f] == current[f] for f in ROW_FIELDS):
            return 0
        self._replace_row(conn, merged)
        return 1

    def get_container_row(self, name: str) -> dict | None:
        values = self.conn.execute(
            f"SELECT ROWID, {', '.join(self.item_columns)} FROM container WHERE name = ?",
            (name,),
        ).fetchone()
        if values is None:
            return None
        return dict(zip(("ROWID",) + self.item_columns, values, strict=True))

    def _reclaim_rows(self, conn, age: str) -> int:
        cursor = conn.execute(
            "DELETE FROM container WHERE deleted = 1 AND delete_timestamp < ?", (age,)
        )
        return cursor.rowcount

    def policy_stats(self) -> dict[int, dict[str, int]]:
        """{policy index: container_count, object_count, bytes_used} over live containers."""
        rows = self.conn.execute(
            "SELECT storage_policy_index, COUNT(*), SUM(object_count), SUM(bytes_used) "
            "FROM container WHERE deleted = 0 GROUP BY storage_policy_index"
        ).fetchall()
        return {index: {"container_count": containers, "object_count": objects or 0,
                        "bytes_used": used or 0}
                for index, containers, objects, used in rows}

    # ---- listing ---------------------------------------------------------------------

    def list_containers(self, params: ListingParams) -> list:
        """Rows `(name, put_timestamp, object_count, bytes_used)` and Subdirs of one page."""
        return list_entries(params, self._fetch)
