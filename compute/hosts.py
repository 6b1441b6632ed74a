"""Hypervisor hosts in the compute database: registration/heartbeats, enable/disable, and the
per-host resource usage the scheduler and `os-hypervisors` report.

A host is "up" when its last heartbeat is within the configured window. Usage is summed from
the servers assigned to the host that are not deleted (ERROR servers keep their claim until
deleted, as in Nova).
"""
from __future__ import annotations

import json
import sqlite3
import time

from compute.db import Database
from compute.host_load import checked_load
from compute.scheduler import BuildRequest, HostState, Policy

USAGE_SQL = """
SELECT host, COUNT(*) AS instances, SUM(vcpus) AS vcpus, SUM(ram) AS ram, SUM(disk) AS disk,
       SUM(CASE WHEN vm_state = 'active' THEN 1 ELSE 0 END) AS running
FROM servers WHERE deleted = 0 AND host IS NOT NULL GROUP BY host
"""


def host_usage(conn) -> dict[str, sqlite3.Row]:
    return {row["host"]: row for row in conn.execute(USAGE_SQL).fetchall()}


def host_states(conn, now: float, window: float) -> list[HostState]:
    """Every registered host as the scheduler sees it, read inside `conn`'s transaction."""
    usage = host_usage(conn)
    result = []
    for row in conn.execute("SELECT * FROM hosts").fetchall():
        used = usage.get(row["name"])
        result.append(
            HostState(
                name=row["name"],
                availability_zone=row["availability_zone"],
                vcpus=row["vcpus"],
                memory_mb=row["memory_mb"],
                local_gb=row["local_gb"],
                vcpus_used=used["vcpus"] if used else 0,
                memory_mb_used=used["ram"] if used else 0,
                local_gb_used=used["disk"] if used else 0,
                instances=used["instances"] if used else 0,
                enabled=bool(row["enabled"]),
                alive=now - row["last_heartbeat"] <= window,
            )
        )
    return result


CANDIDATE_LIMIT = 32

# Ordering keys matching the scheduler's weighers (free RAM share, then free vCPU share).
RAM_SHARE = "(memory_mb * :ram_ratio - ram_used - :ram) / (memory_mb * :ram_ratio)"
CPU_SHARE = "(vcpus * :cpu_ratio - vcpus_used - :vcpus) / (vcpus * :cpu_ratio)"
ORDERS = {
    "spread": f"{RAM_SHARE} DESC, {CPU_SHARE} DESC, name ASC",
    "pack": f"{RAM_SHARE} ASC, {CPU_SHARE} ASC, name ASC",
    "random": "RANDOM()",
}


def candidate_host_states(conn, now: float, window: float, request: BuildRequest,
                          policy: Policy) -> list[HostState]:
    """The best few hosts for `request`, filtered and ordered in SQL on the hosts' usage
    columns; the scheduler then filters and weighs them again (same rules) to pick one."""
    sql = (
        "SELECT name, availability_zone, vcpus, memory_mb, local_gb, vcpus_used, ram_used,"
        " disk_used, instances FROM hosts"
        " WHERE enabled = 1 AND last_heartbeat >= :alive_since"
        " AND memory_mb > 0 AND vcpus > 0"
        " AND ram_used + :ram <= memory_mb * :ram_ratio"
        " AND vcpus_used + :vcpus <= vcpus * :cpu_ratio"
        " AND disk_used + :disk <= local_gb * :disk_ratio"
    )
    if request.availability_zone:
        sql += " AND availability_zone = :zone"
    if request.excluded_hosts:
        marks = ", ".join(f":x{i}" for i in range(len(request.excluded_hosts)))
        sql += f" AND name NOT IN ({marks})"
    sql += f" ORDER BY {ORDERS[policy.weigher]} LIMIT {CANDIDATE_LIMIT}"
    params = {
        "alive_since": now - window, "zone": request.availability_zone,
        "ram": request.memory_mb, "vcpus": request.vcpus, "disk": request.local_gb,
        "ram_ratio": policy.ram_allocation_ratio, "cpu_ratio": policy.cpu_allocation_ratio,
        "disk_ratio": policy.disk_allocation_ratio,
        **{f"x{i}": name for i, name in enumerate(sorted(request.excluded_hosts))},
    }
    cursor = conn.cursor()
    cursor.row_factory = None
    return [HostState(*row) for row in cursor.execute(sql, params)]


class HostRepo:
    """Registration, heartbeats and service status of hypervisor hosts."""

    def __init__(self, db: Database):
        self.db = db

    def record_heartbeat(self, report: dict, now: float | None = None) -> tuple[dict, bool]:
        """Upsert the host from an agent report. Returns (host, agent_restarted)."""
        now = time.time() if now is None else now
        uptime, load = checked_load(report)
        with self.db.write() as conn:
            row = conn.execute("SELECT * FROM hosts WHERE name = ?", (report["host"],)).fetchone()
            fields = (
                report["availability_zone"],
                report["agent_url"],
                report.get("host_ip", ""),
                int(report["vcpus"]),
                int(report["memory_mb"]),
                int(report["local_gb"]),
                report["hypervisor_type"],
                int(report.get("hypervisor_version", 0)),
                report["boot_id"],
                now,
                uptime,
                json.dumps(load) if load is not None else None,
            )
            if row is None:
                conn.execute(
                    "INSERT INTO hosts (availability_zone, agent_url, host_ip, vcpus, memory_mb,"
                    " local_gb, hypervisor_type, hypervisor_version, boot_id, last_heartbeat,"
                    " uptime_seconds, load_average, name, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*fields, report["host"], now),
                )
                restarted = True
            else:
                conn.execute(
                    "UPDATE hosts SET availability_zone = ?, agent_url = ?, host_ip = ?,"
                    " vcpus = ?, memory_mb = ?, local_gb = ?, hypervisor_type = ?,"
                    " hypervisor_version = ?, boot_id = ?, last_heartbeat = ?, uptime_seconds = ?,"
                    " load_average = ? WHERE name = ?",
                    (*fields, report["host"]),
                )
                restarted = row["boot_id"] != report["boot_id"]
            host = conn.execute("SELECT * FROM hosts WHERE name = ?", (report["host"],)).fetchone()
        return dict(host), restarted

    def list_hosts(self) -> list[dict]:
        return [dict(r) for r in self.db.read("SELECT * FROM hosts ORDER BY id")]

    def get_host(self, name: str) -> dict | None:
        rows = self.db.read("SELECT * FROM hosts WHERE name = ?", (name,))
        return dict(rows[0]) if rows else None

    def get_host_by_id(self, host_id: int) -> dict | None:
        rows = self.db.read("SELECT * FROM hosts WHERE id = ?", (host_id,))
        return dict(rows[0]) if rows else None

    def set_enabled(self, name: str, enabled: bool, reason: str | None) -> dict | None:
        with self.db.write() as conn:
            conn.execute(
                "UPDATE hosts SET enabled = ?, disabled_reason = ? WHERE name = ?",
                (1 if enabled else 0, None if enabled else reason, name),
            )
            row = conn.execute("SELECT * FROM hosts WHERE name = ?", (name,)).fetchone()
        return dict(row) if row else None

    def usage(self) -> dict[str, dict]:
        return {row["host"]: dict(row) for row in self.db.read(USAGE_SQL)}

    def stale_hosts(self, now: float, window: float) -> list[dict]:
        rows = self.db.read("SELECT * FROM hosts WHERE last_heartbeat < ?", (now - window,))
        return [dict(r) for r in rows]
