"""Per-project quotas (instances, cores, ram): limits, usage, and the pure over-quota check.

`check_quota` is pure; `QuotaRepo.limits` reads a project's limits (its own rows over the
configured defaults). compute.claims runs the check and the server insert in one write
transaction so that concurrent boots can never exceed a limit.
"""
from __future__ import annotations

from compute.db import Database

RESOURCES = ("instances", "cores", "ram")

PROJECT_USAGE_SQL = (
    "SELECT COUNT(*) AS instances, COALESCE(SUM(vcpus), 0) AS cores,"
    " COALESCE(SUM(ram), 0) AS ram FROM servers WHERE project_id = ? AND deleted = 0"
)


class QuotaExceeded(Exception):
    """A boot would exceed a project quota; the message is Nova's wording."""


def check_quota(limits: dict, used: dict, requested: dict) -> str | None:
    """The over-quota message for the first resource that would exceed its limit, or None.

    A limit of -1 means unlimited.
    """
    for resource in RESOURCES:
        limit = limits[resource]
        if limit < 0:
            continue
        if used[resource] + requested[resource] > limit:
            return (
                f"Quota exceeded for {resource}: Requested {requested[resource]}, but already "
                f"used {used[resource]} of {limit} {resource}"
            )
    return None


def limits_in(conn, project_id: str, defaults: dict) -> dict:
    limits = dict(defaults)
    rows = conn.execute(
        "SELECT resource, hard_limit FROM quotas WHERE project_id = ?", (project_id,)
    ).fetchall()
    for row in rows:
        limits[row["resource"]] = row["hard_limit"]
    return limits


def usage_in(conn, project_id: str) -> dict:
    row = conn.execute(PROJECT_USAGE_SQL, (project_id,)).fetchone()
    return {"instances": row["instances"], "cores": row["cores"], "ram": row["ram"]}


class QuotaRepo:
    """Reading and setting quota limits."""

    def __init__(self, db: Database, defaults: dict):
        self.db = db
        self.defaults = dict(defaults)

    def limits(self, project_id: str) -> dict:
        with self.db.write() as conn:
            return limits_in(conn, project_id, self.defaults)

    def usage(self, project_id: str) -> dict:
        with self.db.write() as conn:
            return usage_in(conn, project_id)

    def set_limits(self, project_id: str, changes: dict) -> dict:
        with self.db.write() as conn:
            for resource, limit in changes.items():
                conn.execute(
                    "INSERT INTO quotas (project_id, resource, hard_limit) VALUES (?, ?, ?)"
                    " ON CONFLICT (project_id, resource) DO UPDATE SET hard_limit = excluded"
                    ".hard_limit",
                    (project_id, resource, int(limit)),
                )
            return limits_in(conn, project_id, self.defaults)
