"""Keypairs in the compute database: one user's named SSH public keys (`os-keypairs`).

A keypair belongs to the user who made it (Nova's rule), not to the project; names are
unique per user (`Duplicate`, a 409), at most `MAX_PER_USER` per user (`TooMany`, a 403).
"""
from __future__ import annotations

import sqlite3
import time

from compute.db import Database

MAX_PER_USER = 100


class Duplicate(Exception):
    """The user already has a keypair of that name."""


class TooMany(Exception):
    """The user has MAX_PER_USER keypairs already."""


def add(db: Database, user_id: str, name: str, public_key: str, fingerprint: str,
        key_type: str = "ssh") -> dict:
    with db.write() as conn:
        count = conn.execute("SELECT COUNT(*) FROM keypairs WHERE user_id = ?",
                             (user_id,)).fetchone()[0]
        if count >= MAX_PER_USER:
            raise TooMany(f"Quota exceeded, too many key pairs (at most {MAX_PER_USER}).")
        try:
            conn.execute(
                "INSERT INTO keypairs (user_id, name, type, public_key, fingerprint, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (user_id, name, key_type, public_key, fingerprint, time.time()))
        except sqlite3.IntegrityError:
            raise Duplicate(f"Key pair '{name}' already exists.") from None
    return get(db, user_id, name)


def get(db: Database, user_id: str, name: str) -> dict | None:
    rows = db.read("SELECT * FROM keypairs WHERE user_id = ? AND name = ?", (user_id, name))
    return dict(rows[0]) if rows else None


def list_for(db: Database, user_id: str) -> list[dict]:
    rows = db.read("SELECT * FROM keypairs WHERE user_id = ? ORDER BY name", (user_id,))
    return [dict(row) for row in rows]


def remove(db: Database, user_id: str, name: str) -> bool:
    with db.write() as conn:
        cursor = conn.execute("DELETE FROM keypairs WHERE user_id = ? AND name = ?",
                              (user_id, name))
        return cursor.rowcount == 1
