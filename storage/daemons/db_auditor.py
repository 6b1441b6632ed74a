"""The database auditor: quarantines container and account databases SQLite finds broken.

Each pass opens every local database read-only and runs `PRAGMA integrity_check`; a database
that fails (or cannot be opened as SQLite at all) has its directory moved to
`<dev>/quarantined/{containers,accounts}/<hash>` so the replicators copy a sound replica back
from a peer. At most `databases_per_second` are checked.
"""
from __future__ import annotations

import os
import sqlite3
import uuid

from common.config import Option
from storage.daemons.context import Daemon, daemon_options
from storage.daemons.rate_limit import RateLimiter
from storage.databases.broker import CONNECTIONS
from storage.replication.db_replicator import iter_databases

KINDS = ("containers", "accounts")


def integrity_problem(path: str) -> str | None:
    """None when SQLite finds the database sound, else the first problem it reports."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=25.0)
    except sqlite3.Error as exc:
        return f"cannot open: {exc}"
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        return str(exc)
    finally:
        conn.close()
    if rows and rows[0][0] == "ok":
        return None
    return "; ".join(str(r[0]) for r in rows[:3]) or "integrity_check returned nothing"


def quarantine_database(devices: str, device: str, kind: str, path: str) -> str:
    """Move the database's hash dir to `<dev>/quarantined/<kind>/`; returns the new path."""
    CONNECTIONS.close(path)
    hash_dir = os.path.dirname(path)
    qdir = os.path.join(devices, device, "quarantined", kind)
    os.makedirs(qdir, exist_ok=True)
    target = os.path.join(qdir, os.path.basename(hash_dir))
    if os.path.exists(target):
        target = f"{target}-{uuid.uuid4().hex}"
    os.rename(hash_dir, target)
    return target


class DatabaseAuditor(Daemon):
    name = "db-auditor"
    OPTIONS = daemon_options(
        300.0,
        Option("databases_per_second", float, 50.0, help="databases checked per second"),
    )

    def run_once(self) -> dict:
        limit = RateLimiter(self.conf["databases_per_second"])
        counts = {"databases": 0, "quarantined": 0, "failures": 0}
        for device in self.node.local_devices():
            for kind in KINDS:
                for _part, _hash, path in iter_databases(self.node.devices, device, kind):
                    problem = integrity_problem(path)
                    counts["databases"] += 1
                    limit.consume(1)
                    if problem is None or not os.path.exists(path):
                        continue
                    try:
                        target = quarantine_database(self.node.devices, device, kind, path)
                    except OSError as exc:
                        self.logger.error("cannot quarantine %s: %s", path, exc)
                        counts["failures"] += 1
                        continue
                    counts["quarantined"] += 1
                    self.logger.warning("quarantined %s (%s) to %s", path, problem, target)
        return counts
