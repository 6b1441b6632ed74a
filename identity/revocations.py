"""Revocation events in the identity store: what makes an otherwise valid token dead.

A token revoked by `DELETE /v3/auth/tokens` leaves an event naming its audit id; a disabled
or deleted user, a changed password, a disabled or deleted project, a removed role
assignment or a deleted application credential leave one naming the user, the project or
the credential, with `issued_before` = now: every token issued until then matches it.
Matching is `common.token_format.is_revoked`, the same rule other services apply to the
events they fetch.
"""
from __future__ import annotations

import time

from common.token_format import RevocationEvent, TokenClaims, is_revoked

FIELDS = ("audit_id", "user_id", "project_id", "app_cred_id")


def add(conn, audit_id: str | None = None, user_id: str | None = None,
        project_id: str | None = None, app_cred_id: str | None = None,
        issued_before: float | None = None) -> None:
    now = time.time()
    conn.execute("INSERT INTO revocations (issued_before, audit_id, user_id, project_id, "
                 "app_cred_id, revoked_at) VALUES (?, ?, ?, ?, ?, ?)",
                 (now if issued_before is None else issued_before, audit_id, user_id,
                  project_id, app_cred_id, now))


def _event(row: dict) -> RevocationEvent:
    return RevocationEvent(row["issued_before"], **{name: row[name] for name in FIELDS})


def events_for(store, claims: TokenClaims) -> list[RevocationEvent]:
    """The events that could match `claims` (by audit id, user, project or credential)."""
    rows = store.rows(
        "SELECT * FROM revocations WHERE issued_before >= ? AND (audit_id = ? OR user_id = ? "
        "OR project_id = ? OR app_cred_id = ?)",
        (claims.issued_at, claims.audit_ids[0] if claims.audit_ids else "", claims.user_id,
         claims.project_id or "", claims.app_cred_id or ""))
    return [_event(row) for row in rows]


def revoked(store, claims: TokenClaims) -> bool:
    return is_revoked(claims, events_for(store, claims))


def events_since(store, since: float) -> list[RevocationEvent]:
    """Every event recorded at or after `since` (for services that keep their own copy)."""
    return [_event(row) for row in store.rows(
        "SELECT * FROM revocations WHERE revoked_at >= ? ORDER BY id", (since,))]


def prune(conn, older_than: float) -> None:
    """Forget events no live token can match any more (all such tokens have expired)."""
    conn.execute("DELETE FROM revocations WHERE issued_before < ?", (older_than,))
