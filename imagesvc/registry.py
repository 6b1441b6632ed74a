"""The image registry: images, their extra properties, tags and members in one SQLite file.

Every call opens a short connection and runs in one transaction (WAL journal, so readers
never wait for the writer). Images are plain dicts: the core columns plus `properties`
(name -> string) and `tags` (sorted list). Status changes that must not race (starting an
upload, finishing one) are compare-and-set updates that report whether they applied.
"""
from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

CORE_COLUMNS = (
    "id", "name", "status", "visibility", "protected", "os_hidden", "checksum",
    "os_hash_algo", "os_hash_value", "owner", "size", "virtual_size", "min_ram", "min_disk",
    "disk_format", "container_format", "created_at", "updated_at",
)
BOOL_COLUMNS = ("protected", "os_hidden")

SCHEMA = """
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    name TEXT,
    status TEXT NOT NULL,
    visibility TEXT NOT NULL,
    protected INTEGER NOT NULL DEFAULT 0,
    os_hidden INTEGER NOT NULL DEFAULT 0,
    checksum TEXT,
    os_hash_algo TEXT,
    os_hash_value TEXT,
    owner TEXT,
    size INTEGER,
    virtual_size INTEGER,
    min_ram INTEGER NOT NULL DEFAULT 0,
    min_disk INTEGER NOT NULL DEFAULT 0,
    disk_format TEXT,
    container_format TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    location TEXT
);
CREATE TABLE IF NOT EXISTS properties (
    image_id TEXT NOT NULL REFERENCES images(id),
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (image_id, name)
);
CREATE TABLE IF NOT EXISTS tags (
    image_id TEXT NOT NULL REFERENCES images(id),
    value TEXT NOT NULL,
    PRIMARY KEY (image_id, value)
);
CREATE TABLE IF NOT EXISTS members (
    image_id TEXT NOT NULL REFERENCES images(id),
    member TEXT NOT NULL,
    status TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (image_id, member)
);
CREATE INDEX IF NOT EXISTS members_by_member ON members (member);
"""


class DuplicateImage(Exception):
    """An image with that id already exists (or existed)."""


def utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Registry:
    def __init__(self, path: str):
        self.path = path
        parent = os.path.dirname(os.path.abspath(path))
        os.makedirs(parent, exist_ok=True)
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self._connect()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    # -- images ------------------------------------------------------------------------

    def create(self, image: dict) -> dict:
        row = {name: image.get(name) for name in CORE_COLUMNS}
        for name in BOOL_COLUMNS:
            row[name] = int(bool(row[name]))
        columns = ", ".join(CORE_COLUMNS)
        marks = ", ".join("?" for _ in CORE_COLUMNS)
        try:
            with self.transaction() as conn:
                conn.execute(
                    f"INSERT INTO images ({columns}) VALUES ({marks})",
                    [row[name] for name in CORE_COLUMNS],
                )
                self._write_children(conn, image["id"], image["properties"], image["tags"])
        except sqlite3.IntegrityError:
            raise DuplicateImage(image["id"]) from None
        return self.get(image["id"])

    @staticmethod
    def _write_children(conn, image_id: str, properties: dict | None, tags) -> None:
        if properties is not None:
            conn.execute("DELETE FROM properties WHERE image_id = ?", (image_id,))
            conn.executemany(
                "INSERT INTO properties (image_id, name, value) VALUES (?, ?, ?)",
                [(image_id, key, value) for key, value in properties.items()],
            )
        if tags is not None:
            conn.execute("DELETE FROM tags WHERE image_id = ?", (image_id,))
            conn.executemany(
                "INSERT INTO tags (image_id, value) VALUES (?, ?)",
                [(image_id, tag) for tag in sorted(set(tags))],
            )

    def get(self, image_id: str) -> dict | None:
        images = self._load("WHERE id = ? AND deleted = 0", (image_id,))
        return images[0] if images else None

    def list_images(self) -> list[dict]:
        return self._load("WHERE deleted = 0", ())

    def location(self, image_id: str) -> dict | None:
        conn = self._connect()
        try:
            row = conn.execute("SELECT location FROM images WHERE id = ?", (image_id,)).fetchone()
        finally:
            conn.close()
        return json.loads(row["location"]) if row and row["location"] else None

    def _load(self, where: str, params: tuple) -> list[dict]:
        conn = self._connect()
        try:
            rows = conn.execute(f"SELECT * FROM images {where}", params).fetchall()
            images = {}
            for row in rows:
                image = {name: row[name] for name in CORE_COLUMNS}
                for name in BOOL_COLUMNS:
                    image[name] = bool(image[name])
                image["properties"] = {}
                image["tags"] = []
                images[image["id"]] = image
            if not images:
                return []
            if len(images) == 1:
                child_where, child_params = "WHERE image_id = ?", (next(iter(images)),)
            else:
                child_where = "WHERE image_id IN (SELECT id FROM images WHERE deleted = 0)"
                child_params = ()
            for prop in conn.execute(
                f"SELECT image_id, name, value FROM properties {child_where}", child_params
            ):
                if prop["image_id"] in images:
                    images[prop["image_id"]]["properties"][prop["name"]] = prop["value"]
            for tag in conn.execute(
                f"SELECT image_id, value FROM tags {child_where} ORDER BY value", child_params
            ):
                if tag["image_id"] in images:
                    images[tag["image_id"]]["tags"].append(tag["value"])
            return list(images.values())
        finally:
            conn.close()

    def update(
        self,
        image_id: str,
        fields: dict,
        properties: dict | None = None,
        tags: list | None = None,
        expect_status: tuple[str, ...] | None = None,
        location: dict | None | bool = False,
    ) -> bool:
        """Write core fields (and optionally replace properties/tags, set the location).

        With `expect_status` the update applies only while the image is in one of those
        states; returns whether it applied. `location=False` leaves the location alone.
        """
        values = dict(fields)
        for name in BOOL_COLUMNS:
            if name in values:
                values[name] = int(bool(values[name]))
        values["updated_at"] = utc_now()
        if location is not False:
            values["location"] = json.dumps(location) if location is not None else None
        assignments = ", ".join(f"{name} = ?" for name in values)
        sql = f"UPDATE images SET {assignments} WHERE id = ? AND deleted = 0"
        params = [*values.values(), image_id]
        if expect_status:
            sql += f" AND status IN ({', '.join('?' for _ in expect_status)})"
            params.extend(expect_status)
        with self.transaction() as conn:
            applied = conn.execute(sql, params).rowcount == 1
            if applied:
                self._write_children(conn, image_id, properties, tags)
        return applied

    def uploads_in_progress(self) -> list[tuple[str, dict | None]]:
        """(id, pending location) of every image in `saving`."""
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT id, location FROM images WHERE status = 'saving' AND deleted = 0"
            ).fetchall()
        finally:
            conn.close()
        return [(row["id"], json.loads(row["location"]) if row["location"] else None)
                for row in rows]

    def deleted_with_data(self) -> list[tuple[str, dict]]:
        """(id, location) of deleted images whose stored data could not be removed yet."""
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT id, location FROM images WHERE deleted = 1 AND location IS NOT NULL"
            ).fetchall()
        finally:
            conn.close()
        return [(row["id"], json.loads(row["location"])) for row in rows]

    def mark_deleted(self, image_id: str) -> bool:
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE images SET deleted = 1, status = 'deleted', updated_at = ? "
                "WHERE id = ? AND deleted = 0",
                (utc_now(), image_id),
            )
            conn.execute("DELETE FROM members WHERE image_id = ?", (image_id,))
            return cursor.rowcount == 1

    def forget_location(self, image_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("UPDATE images SET location = NULL WHERE id = ?", (image_id,))

    def add_tag(self, image_id: str, tag: str) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO tags (image_id, value) VALUES (?, ?)", (image_id, tag)
            )
            conn.execute("UPDATE images SET updated_at = ? WHERE id = ?", (utc_now(), image_id))

    def remove_tag(self, image_id: str, tag: str) -> bool:
        with self.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM tags WHERE image_id = ? AND value = ?", (image_id, tag)
            )
            if cursor.rowcount:
                conn.execute(
                    "UPDATE images SET updated_at = ? WHERE id = ?", (utc_now(), image_id)
                )
            return cursor.rowcount == 1

    # -- members -----------------------------------------------------------------------

    def add_member(self, image_id: str, member: str) -> dict | None:
        """Add a pending member; None when it is already a member."""
        now = utc_now()
        try:
            with self.transaction() as conn:
                conn.execute(
                    "INSERT INTO members (image_id, member, status, created_at, updated_at) "
                    "VALUES (?, ?, 'pending', ?, ?)",
                    (image_id, member, now, now),
                )
        except sqlite3.IntegrityError:
            return None
        return self.get_member(image_id, member)

    def get_member(self, image_id: str, member: str) -> dict | None:
        conn = self._connect()
        try:
            row = conn.execute(
                "SELECT * FROM members WHERE image_id = ? AND member = ?", (image_id, member)
            ).fetchone()
        finally:
            conn.close()
        return dict(row) if row else None

    def list_members(self, image_id: str) -> list[dict]:
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT * FROM members WHERE image_id = ? ORDER BY created_at, member",
                (image_id,),
            ).fetchall()
        finally:
            conn.close()
        return [dict(row) for row in rows]

    def memberships_of(self, member: str) -> dict[str, str]:
        """{image_id: status} for every image shared with `member`."""
        conn = self._connect()
        try:
            rows = conn.execute(
                "SELECT image_id, status FROM members WHERE member = ?", (member,)
            ).fetchall()
        finally:
            conn.close()
        return {row["image_id"]: row["status"] for row in rows}

    def set_member_status(self, image_id: str, member: str, status: str) -> dict | None:
        with self.transaction() as conn:
            cursor = conn.execute(
                "UPDATE members SET status = ?, updated_at = ? WHERE image_id = ? AND member = ?",
                (status, utc_now(), image_id, member),
            )
            if cursor.rowcount != 1:
                return None
        return self.get_member(image_id, member)

    def delete_member(self, image_id: str, member: str) -> bool:
        with self.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM members WHERE image_id = ? AND member = ?", (image_id, member)
            )
            return cursor.rowcount == 1
