"""Host claims for servers that move: unshelve, resize, cold migration, evacuation.

Like `compute.claims.claim_host`, one `BEGIN IMMEDIATE` transaction reads the hosts' usage and
assigns the chosen host, so moves and boots never overcommit a host together. The server must
still be in the task state its operation set (a delete or another request in between makes
the claim fail). A resize or migration records where the server was and its flavor
(`old_host`, `old_flavor`, `old_vm_state`) for `revertResize`; the `servers` triggers move
the usage from the old host to the new one with the new flavor in the same statement.
"""
from __future__ import annotations

import json
import time

from compute.db import Database
from compute.hosts import candidate_host_states, host_states
from compute.scheduler import BuildRequest, Policy, select_host


def flavor_of(server: dict) -> dict:
    return {"id": server["flavor_id"], "vcpus": server["vcpus"], "ram": server["ram"],
            "disk": server["disk"]}


def claim_move(db: Database, server_id: str, task: str, new_task: str, policy: Policy,
               window: float, *, flavor: dict, exclude: frozenset = frozenset(),
               force_host: str | None = None, keep_source: bool = False) -> dict | None:
    """Claim a host for the server (in `task`) with `flavor` and set `new_task`.

    `exclude`: hosts not to pick (the current one for a migration, a dead one for an
    evacuation); `force_host`: that host or none; `keep_source`: remember the current host,
    flavor and vm_state for a revert. Returns the claimed host row, or None when no host fits
    or the server is no longer in `task`.
    """
    now = time.time()
    with db.write() as conn:
        row = conn.execute("SELECT * FROM servers WHERE id = ? AND deleted = 0"
                           " AND task_state = ?", (server_id, task)).fetchone()
        if row is None:
            return None
        request = BuildRequest(vcpus=int(flavor["vcpus"]), memory_mb=int(flavor["ram"]),
                               local_gb=int(flavor["disk"]),
                               availability_zone=row["availability_zone"],
                               excluded_hosts=frozenset(exclude))
        if force_host is not None:
            candidates = [h for h in host_states(conn, now, window) if h.name == force_host]
            if row["host"] == force_host:  # its own usage is moved, not added
                candidates = [_without(h, row) for h in candidates]
        else:
            candidates = candidate_host_states(conn, now, window, request, policy)
        chosen = select_host(candidates, request, policy)
        if chosen is None:
            return None
        changes = {"host": chosen.name, "task_state": new_task, "updated_at": now,
                   "flavor_id": flavor["id"], "vcpus": flavor["vcpus"], "ram": flavor["ram"],
                   "disk": flavor["disk"]}
        if keep_source:
            changes.update(old_host=row["host"], old_flavor=json.dumps(flavor_of(dict(row))),
                           old_vm_state=row["vm_state"])
        assignments = ", ".join(f"{key} = ?" for key in changes)
        conn.execute(f"UPDATE servers SET {assignments} WHERE id = ?",
                     (*changes.values(), server_id))
        return dict(conn.execute("SELECT * FROM hosts WHERE name = ?",
                                 (chosen.name,)).fetchone())


def _without(host, row):
    """The host's state without the server's own usage (a same-host resize)."""
    host.vcpus_used -= row["vcpus"]
    host.memory_mb_used -= row["ram"]
    host.local_gb_used -= row["disk"]
    host.instances -= 1
    return host


def undo_move(db: Database, server_id: str, task: str, **changes) -> bool:
    """Put a server whose move failed back where it was (its `old_*` columns), with
    `changes`; False when it is no longer in `task`."""
    now = time.time()
    with db.write() as conn:
        row = conn.execute("SELECT * FROM servers WHERE id = ? AND deleted = 0"
                           " AND task_state = ?", (server_id, task)).fetchone()
        if row is None or row["old_flavor"] is None:
            return False
        flavor = json.loads(row["old_flavor"])
        values = {"host": row["old_host"], "flavor_id": flavor["id"], "vcpus": flavor["vcpus"],
                  "ram": flavor["ram"], "disk": flavor["disk"], "old_host": None,
                  "old_flavor": None, "old_vm_state": None, "updated_at": now, **changes}
        assignments = ", ".join(f"{key} = ?" for key in values)
        conn.execute(f"UPDATE servers SET {assignments} WHERE id = ?",
                     (*values.values(), server_id))
        return True
