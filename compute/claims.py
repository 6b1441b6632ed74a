"""Atomic state changes that must not race: the quota-checked server insert and host claims.

Both run inside one `BEGIN IMMEDIATE` transaction, so what they read (project usage, host
usage) cannot change before they write: concurrent boots never exceed a quota and never
overcommit a host, even across API processes sharing the database.
"""
from __future__ import annotations

import json
import time

from compute import states
from compute.db import Database
from compute.hosts import candidate_host_states
from compute.quotas import QuotaExceeded, check_quota, limits_in, usage_in
from compute.scheduler import BuildRequest, Policy, select_host

# Columns of a new server row taken as given (the others are encoded or set below).
SERVER_COLUMNS = ("id", "name", "project_id", "user_id", "image_ref", "kernel_id", "ramdisk_id",
                  "flavor_id", "vcpus", "ram", "disk", "availability_zone", "key_name",
                  "key_data", "user_data")
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


def insert_server_within_quota(db: Database, server: dict, quota_defaults: dict) -> None:
    """Insert a new BUILD/scheduling server row unless it would exceed the project's quota."""
    requested = {"instances": 1, "cores": server["vcpus"], "ram": server["ram"]}
    now = time.time()
    with db.write() as conn:
        limits = limits_in(conn, server["project_id"], quota_defaults)
        message = check_quota(limits, usage_in(conn, server["project_id"]), requested)
        if message is not None:
            raise QuotaExceeded(message)
        row = {
            **{key: server.get(key) for key in SERVER_COLUMNS},
            "image_meta": json.dumps(server.get("image_meta", {})),
            "metadata": json.dumps(server.get("metadata", {})),
            "network_info": json.dumps(server.get("network_info", [])),
            "block_devices": json.dumps(server.get("block_devices", [])),
            "config_drive": 1 if server.get("config_drive") else 0,
            "vm_state": states.BUILDING,
            "task_state": states.SCHEDULING,
            "power_state": states.NOSTATE,
            "created_at": now,
            "updated_at": now,
        }
        conn.execute(
            f"INSERT INTO servers ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})",
            tuple(row.values()),
        )


def claim_host(db: Database, server_id: str, policy: Policy, window: float) -> dict | None:
    """Pick a host for a scheduling server and assign it, atomically.

    Returns the host row (as a dict) that was claimed, or None when no host fits (the caller
    then puts the server in ERROR). Returns None too when the server is no longer waiting
    for a host (deleted meanwhile).
    """
    now = time.time()
    with db.write() as conn:
        row = conn.execute(
            "SELECT * FROM servers WHERE id = ? AND deleted = 0 AND vm_state = ?"
            " AND task_state = ?",
            (server_id, states.BUILDING, states.SCHEDULING),
        ).fetchone()
        if row is None:
            return None
        attempted = json.loads(row["attempted_hosts"])
        request = BuildRequest(
            vcpus=row["vcpus"],
            memory_mb=row["ram"],
            local_gb=row["disk"],
            availability_zone=row["availability_zone"],
            excluded_hosts=frozenset(attempted),
        )
        chosen = select_host(candidate_host_states(conn, now, window, request, policy), request,
                             policy)
        if chosen is None:
            return None
        conn.execute(
            "UPDATE servers SET host = ?, task_state = ?, attempted_hosts = ?, updated_at = ?"
            " WHERE id = ?",
            (chosen.name, states.SPAWNING, json.dumps([*attempted, chosen.name]), now, server_id),
        )
        host = conn.execute("SELECT * FROM hosts WHERE name = ?", (chosen.name,)).fetchone()
        return dict(host)


def release_for_retry(db: Database, server_id: str, host: str) -> bool:
    """Give back a failed host's claim and put the server back to scheduling."""
    now = time.time()
    with db.write() as conn:
        cursor = conn.execute(
            "UPDATE servers SET host = NULL, task_state = ?, updated_at = ?"
            " WHERE id = ? AND deleted = 0 AND host = ? AND vm_state = ?",
            (states.SCHEDULING, now, server_id, host, states.BUILDING),
        )
        return cursor.rowcount == 1
