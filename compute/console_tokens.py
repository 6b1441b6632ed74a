"""One-time console tokens in the compute database: `remote-consoles` issues one for a
server, the console websocket spends it (`compute.api.consoles`).

A token is 32 random bytes (URL-safe base64); only its SHA-256 is stored, with the server,
the server's project, the kind (`serial` or `vnc`) and an expiry `TTL` seconds away.
`consume` deletes the token as it reads it, so it opens one connection at most, and drops
every expired token on the way.
"""
from __future__ import annotations

import hashlib
import secrets
import time

TTL = 600.0  # seconds, as Nova's console tokens


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def issue(db, server_id: str, project_id: str, kind: str, now: float | None = None) -> str:
    token = secrets.token_urlsafe(32)
    expires = (time.time() if now is None else now) + TTL
    with db.write() as conn:
        conn.execute("INSERT INTO console_tokens (token_hash, server_id, project_id, kind, "
                     "expires) VALUES (?, ?, ?, ?, ?)",
                     (_digest(token), server_id, project_id, kind, expires))
    return token


def consume(db, token: str, now: float | None = None) -> dict | None:
    """{"server_id", "project_id", "kind"} of a live token, which is gone afterwards; None
    for an unknown, spent or expired one."""
    now = time.time() if now is None else now
    with db.write() as conn:
        conn.execute("DELETE FROM console_tokens WHERE expires < ?", (now,))
        row = conn.execute("SELECT server_id, project_id, kind FROM console_tokens "
                           "WHERE token_hash = ?", (_digest(token),)).fetchone()
        if row is None:
            return None
        conn.execute("DELETE FROM console_tokens WHERE token_hash = ?", (_digest(token),))
    return {"server_id": row[0], "project_id": row[1], "kind": row[2]}
